/**
 * Fuzzes the http broker's subscriber port with generated and mutated requests (see
 * http-broker-cases.ts): the process keeps serving, every answer is one the broker means to give
 * (never a 500 from an unexpected path), memory stays bounded, the handler only ever sees
 * messages of its topic, and a normal publish is still delivered afterwards.
 *
 *   FUZZ_CASES=100000 FUZZ_SEED=7 node test/run.mjs fuzz/http-broker   # a longer run
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, it } from "node:test";
import { HTTP_BROKER_SERVICE, HttpBroker } from "../../src/broker/http.js";
import { createLogger } from "../../src/logger/logger.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { fuzzCase, type Target } from "./http-broker-cases.js";

const CASES = Number(process.env.FUZZ_CASES ?? 5_000);
const SEED = Number(process.env.FUZZ_SEED ?? 12);
/** Cases in flight at once. */
const PARALLEL = 32;
/** A case whose connection the server has neither answered nor closed by then counts as hung. */
const CASE_TIMEOUT = 5_000;
/** Statuses the broker answers on purpose; anything else (500 above all) is a finding. */
const EXPECTED = new Set([200, 400, 404, 405, 408, 413, 414, 431, 501, 505]);

const registry = new MemoryRegistry();
const quiet = createLogger({ level: "fatal" });
const subscriber = new HttpBroker({ registry, logger: quiet, maxBodySize: 64 << 10, headersTimeout: 1_000, requestTimeout: 2_000 });
const publisher = new HttpBroker({ registry, logger: quiet, retryFor: 0 });
after(async () => {
  await publisher.disconnect();
  await subscriber.disconnect();
  await registry.close();
});

interface Outcome {
  /** The status of each response the server wrote (a pipelined case may get several). */
  statuses: number[];
  hung: boolean;
}

/** Sends one case on its own connection, half-closes, and collects what comes back. */
function send(address: string, bytes: Buffer): Promise<Outcome> {
  const [host, port] = address.split(":");
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port) });
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (hung: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString("latin1");
      resolve({ statuses: [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1])), hung });
    };
    const timer = setTimeout(() => done(true), CASE_TIMEOUT);
    socket.on("data", (d) => chunks.push(d));
    socket.on("close", () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.end(bytes));
  });
}

it(`survives ${CASES} fuzzed requests (seed ${SEED}) and still delivers`, async (t) => {
  const topic = "fuzz.http-broker";
  const received: string[] = [];
  await subscriber.subscribe(topic, (event) => {
    const header = event.message.header;
    const t = Object.entries(header).find(([k]) => k.toLowerCase() === "micro-topic")?.[1];
    assert.equal(t, topic, "the handler only sees messages of its topic");
    received.push(header["Micro-Id"] ?? "");
  });
  const node = (await registry.getService(HTTP_BROKER_SERVICE)).flatMap((s) => s.nodes).find((n) => n.metadata?.topic === topic)!;
  const target: Target = { id: node.id, topic };

  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const statuses = new Map<number, number>();
  const unexpected: string[] = [];
  const hung: number[] = [];
  let closedSilently = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < CASES) {
      const n = next++;
      const outcome = await send(node.address, fuzzCase(SEED, n, target));
      if (outcome.hung) hung.push(n);
      if (outcome.statuses.length === 0) closedSilently++;
      for (const status of outcome.statuses) {
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (!EXPECTED.has(status) && unexpected.length < 10) unexpected.push(`case ${n}: HTTP ${status}`);
      }
      if (n % 200 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);

  const summary = `${CASES} cases, seed ${SEED}, statuses ${JSON.stringify(Object.fromEntries(statuses))}, handler got ${received.length}`;
  assert.deepEqual(unexpected, [], `unexpected answers (${summary}); replay with FUZZ_SEED=${SEED}`);
  assert.deepEqual(hung.slice(0, 10), [], `connections neither answered nor closed within ${CASE_TIMEOUT} ms (${summary})`);
  // Bodies are capped at 64 KiB and 32 cases run at once: growth past this is a leak.
  const growth = (rssPeak - rssBefore) / 2 ** 20;
  assert.ok(growth < 256, `RSS grew ${growth.toFixed(0)} MiB during the run (${summary})`);

  t.diagnostic(`${summary}, RSS growth ${growth.toFixed(1)} MiB, no answer (closed) ${closedSilently}`);
  const before = received.length;
  await publisher.publish(topic, { header: { "Content-Type": "application/json", "Micro-Id": "after-fuzz" }, body: Buffer.from('{"n":2}') });
  assert.equal(received.length, before + 1, "a normal publish is still delivered");
  assert.equal(received.at(-1), "after-fuzz");
});
