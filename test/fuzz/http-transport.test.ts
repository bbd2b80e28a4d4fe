/**
 * Fuzzes the HTTP transport's server with generated and mutated requests (http-transport-cases.ts)
 * over real connections, against the RPC server behind it, with small limits so that cases that
 * never finish end quickly. It asserts that nothing throws (an exception escaping would end this
 * process; one caught inside the transport is logged at error level and fails the test), that
 * memory and open descriptors stay bounded, and that a normal call succeeds along the way and
 * afterwards. The parser is also checked on its own: the same bytes give the same messages
 * however they are split into reads.
 *
 * `npm test` runs 3,000 connection cases and 15,000 parser cases from a fixed seed. A longer run:
 *   FUZZ_CASES=100000 FUZZ_SEED=7 node --test dist/test/fuzz/http-transport.test.js
 * and one case again: FUZZ_SEED=<seed> FUZZ_CASE=<index> (as a failure reports them).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { MicroError } from "../../src/errors/errors.js";
import { createLogger, type Logger } from "../../src/logger/logger.js";
import { MicroHeader } from "../../src/metadata/headers.js";
import { Server } from "../../src/server/server.js";
import { HttpTransport } from "../../src/transport/http/http.js";
import { HttpParser } from "../../src/transport/http/parser.js";
import { splitHostPort } from "../../src/transport/tcp.js";
import type { ClientConnection, Listener } from "../../src/transport/transport.js";
import { type FuzzCase, fuzzCase } from "./http-transport-cases.js";
import { Random } from "./random.js";

const CASES = Number(process.env.FUZZ_CASES ?? 3_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
const ONLY = process.env.FUZZ_CASE === undefined ? undefined : Number(process.env.FUZZ_CASE);
/** Connections open at once. */
const CONCURRENCY = 32;
/**
 * Milliseconds a case may keep its connection before the fuzzer drops it. The server's own
 * timeouts (300 ms here) end every connection well before, except one with a stream open.
 */
const CASE_CAP = 3_000;

/** Case `index` of the run: each has a seed of its own, so any one replays alone. */
const caseAt = (index: number): FuzzCase => fuzzCase(new Random((SEED ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0));

class Fuzz {
  async Echo(req: unknown): Promise<unknown> {
    return req;
  }
  async Fail(): Promise<never> {
    throw MicroError.badRequest("fuzz", "asked to fail");
  }
  async *Count(req: { to?: unknown } | null): AsyncIterable<{ i: number }> {
    const to = Math.min(Number(req?.to) || 0, 5);
    for (let i = 0; i < to; i++) yield { i };
  }
}

/** Counts what the transport logs at error level: an internal error is a bug the fuzzer found. */
class ErrorCounter implements Logger {
  readonly errors: string[] = [];
  debug(): void {}
  info(): void {}
  warn(): void {}
  error(msg: string, fields?: Record<string, unknown>): void {
    this.errors.push(`${msg} ${JSON.stringify(fields)}`);
  }
  child(): Logger {
    return this;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const openDescriptors = (): number => (fs.existsSync("/proc/self/fd") ? fs.readdirSync("/proc/self/fd").length : 0);

/**
 * Sends one case on a fresh connection, reading and dropping what comes back, until the server
 * closes it (true) or the cap (false).
 */
async function send(address: string, c: FuzzCase): Promise<boolean> {
  const socket = net.connect(splitHostPort(address));
  socket.on("error", () => {});
  socket.resume();
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const connected = await Promise.race([new Promise<boolean>((resolve) => socket.once("connect", () => resolve(true))), closed.then(() => false)]);
  if (!connected) return true;
  let from = 0;
  for (const cut of [...c.cuts, c.bytes.length]) {
    if (socket.destroyed) break;
    socket.write(c.bytes.subarray(from, cut));
    from = cut;
    await new Promise((resolve) => setImmediate(resolve)); // separate reads on the server, mostly
  }
  if (c.end && !socket.destroyed) socket.end();
  let timer: NodeJS.Timeout | undefined;
  const byServer = await Promise.race([closed.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), CASE_CAP)))]);
  clearTimeout(timer);
  socket.destroy();
  return byServer;
}

/** Whether a case may open a stream (`Micro-Stream` or `X-Micro-Stream`), which legitimately stays open. */
const mayOpenStream = (c: FuzzCase): boolean => /micro-stream/i.test(c.bytes.toString("latin1"));

describe(`http transport fuzzing (seed ${SEED}, ${ONLY === undefined ? `${CASES} cases` : `case ${ONLY}`})`, () => {
  const errors = new ErrorCounter();
  const server = new Server({ name: "fuzz", logger: createLogger({ level: "silent" }) });
  server.handle(new Fuzz());
  let listener: Listener;
  let client: ClientConnection;

  before(async () => {
    const transport = new HttpTransport({
      logger: errors,
      headerTimeout: 300,
      bodyTimeout: 300,
      idleTimeout: 300,
      writeTimeout: 1_000,
      maxMessageSize: 64 * 1024,
      maxHeaderBytes: 16 * 1024,
      maxHeaders: 64,
      maxConnections: 1_024,
    });
    listener = await transport.listen("127.0.0.1:0", { handler: server.serve, streamHandler: server.serveStream });
    client = await new HttpTransport({ logger: errors }).dial(listener.address);
  });
  after(() => {
    client.close();
    listener.destroy();
  });

  async function normalCall(n: number): Promise<void> {
    const header = { [MicroHeader.Endpoint]: "Fuzz.Echo", [MicroHeader.Service]: "fuzz", [MicroHeader.ContentType]: "application/json" };
    const reply = await client.call({ header, body: Buffer.from(JSON.stringify({ n })) }, { deadline: Date.now() + 5_000 });
    assert.equal(reply.header[MicroHeader.Error], undefined, `normal call failed: ${reply.header[MicroHeader.Error]}`);
    assert.deepEqual(JSON.parse(Buffer.from(reply.body).toString()), { n });
  }

  it("survives every case: nothing thrown, every connection ended by the server, memory and descriptors bounded, normal calls served", async (t) => {
    const indexes = ONLY === undefined ? Array.from({ length: CASES }, (_, i) => i) : [ONLY];
    const warmup = Math.min(50, indexes.length);
    for (const i of indexes.slice(0, warmup)) await send(listener.address, caseAt(i));
    await sleep(500);
    (globalThis as { gc?: () => void }).gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const rssBefore = process.memoryUsage.rss();
    const fdsBefore = openDescriptors();
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 50);
    const started = Date.now();
    let next = warmup;
    /** Cases whose connection the server held until the fuzzer gave up, with no stream to excuse it. */
    const held: number[] = [];
    const worker = async (): Promise<void> => {
      while (next < indexes.length) {
        const i = indexes[next++];
        try {
          const c = caseAt(i);
          if (!(await send(listener.address, c)) && !mayOpenStream(c)) held.push(i);
          if (i % 500 === 0) await normalCall(i);
        } catch (err) {
          throw new Error(`case ${i} (FUZZ_SEED=${SEED} FUZZ_CASE=${i}): ${(err as Error).message}`);
        }
        assert.deepEqual(errors.errors, [], `internal errors after case ${i} (FUZZ_SEED=${SEED} FUZZ_CASE=${i})`);
      }
    };
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    } finally {
      clearInterval(sampler);
    }
    await normalCall(-1);
    // Connections the server ended linger up to 2 s for a peer that keeps its side open.
    let fdsAfter = openDescriptors();
    for (let i = 0; i < 60 && fdsAfter > fdsBefore + 4; i++) {
      await sleep(100);
      fdsAfter = openDescriptors();
    }
    const rssAfter = process.memoryUsage.rss();
    const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
    // With --expose-gc, the heap left after a full collection shows whether anything is retained.
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const heap = gc ? `; heap after GC ${mib(process.memoryUsage().heapUsed)} MiB (${mib(heapBefore)} before)` : "";
    t.diagnostic(
      `${indexes.length - warmup} cases in ${Date.now() - started} ms; RSS ${mib(rssBefore)} → peak ${mib(rssPeak)} → ${mib(rssAfter)} MiB; descriptors ${fdsBefore} → ${fdsAfter}${heap}`,
    );
    assert.deepEqual(errors.errors, []);
    assert.deepEqual(held.slice(0, 10), [], `${held.length} connections held open by the server (FUZZ_SEED=${SEED} FUZZ_CASE=<one of them>)`);
    assert.ok(rssPeak - rssBefore < 150 * 2 ** 20, `RSS grew by ${mib(rssPeak - rssBefore)} MiB`);
    assert.ok(fdsAfter <= fdsBefore + 4, `open descriptors ${fdsBefore} → ${fdsAfter}: connections leak`);
  });

  it("parser: the same messages however the bytes are split into reads", () => {
    const limits = { maxHeaderBytes: 16 * 1024, maxHeaders: 64, maxBodyBytes: 64 * 1024 };
    const parse = (c: FuzzCase, cuts: number[]): string[] => {
      const out: string[] = [];
      const parser = new HttpParser("request", limits, (m) =>
        out.push(`${m.method} ${m.target} 1.${m.minor} ${JSON.stringify(m.header)} ${m.body.toString("hex")}`),
      );
      let from = 0;
      for (const cut of [...cuts, c.bytes.length]) {
        if (parser.push(c.bytes.subarray(from, cut))) return [...out, "failed"];
        from = cut;
      }
      return [...out, parser.phase];
    };
    const count = ONLY === undefined ? 5 * CASES : 1;
    for (let n = 0; n < count; n++) {
      const i = ONLY ?? n;
      const c = caseAt(i);
      const r = new Random(i);
      const byteByByte = c.bytes.length < 300 && r.chance(0.2);
      const cuts = byteByByte
        ? Array.from({ length: c.bytes.length - 1 }, (_, k) => k + 1)
        : [...new Set([...c.cuts, ...Array.from({ length: 8 }, () => r.int(c.bytes.length))])].filter((x) => x > 0).sort((a, b) => a - b);
      assert.deepEqual(parse(c, cuts), parse(c, []), `case ${i} (FUZZ_SEED=${SEED} FUZZ_CASE=${i})`);
    }
  });
});
