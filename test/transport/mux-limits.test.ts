/**
 * mux resource limits (issue 12): a client cannot make a server hold a connection, memory or
 * CPU beyond its limits. Limits are set small through options so that each test is quick;
 * memory is measured on a server in its own process (its RSS, from /proc).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { MicroHeader } from "../../src/metadata/headers.js";
import { FrameReader } from "../../src/transport/framing/frame-reader.js";
import { type MuxOptions, MuxTransport } from "../../src/transport/mux/mux.js";
import { type Listener, NotDeliveredError } from "../../src/transport/transport.js";
import { recordingLogger } from "../setup/logger.js";
import { rawFrame, rawPeer, serverProcess } from "./mux-peer.js";

const REQUEST = 1;
const MiB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function serve(options: MuxOptions, logged: string[] = []): Promise<{ transport: MuxTransport; listener: Listener }> {
  const transport = new MuxTransport({ ...options, logger: recordingLogger(logged) });
  const listener = await transport.listen("127.0.0.1:0", { handler: async (req) => ({ header: {}, body: req.body }) });
  return { transport, listener };
}

async function call(transport: MuxTransport, address: string, text = "ping"): Promise<string> {
  const conn = await transport.dial(address);
  try {
    return Buffer.from((await conn.call({ header: { [MicroHeader.Endpoint]: "Echo.Echo" }, body: Buffer.from(text) })).body).toString();
  } finally {
    conn.close();
  }
}

describe("mux limits: timeouts", () => {
  it("closes connections that send part of the preface and stop, logging it once per interval", async () => {
    const logged: string[] = [];
    const { transport, listener } = await serve({ prefaceTimeout: 200 }, logged);
    try {
      const peers = await Promise.all([1, 2, 3].map(() => rawPeer(listener.address, false)));
      for (const peer of peers) peer.socket.write("TSM");
      for (const peer of peers) assert.equal(await peer.closedWithin(3_000), true, "a partial preface is not held open");
      assert.equal(logged.filter((l) => l.includes("no mux preface within 200 ms")).length, 1, logged.join("\n"));
      assert.ok(
        logged.some((l) => l.includes('"remote":"127.0.0.1:')),
        "the line names the peer",
      );
      assert.equal(await call(transport, listener.address), "ping");
    } finally {
      listener.destroy();
    }
  });

  it("closes a connection that starts a frame and never finishes it (slowloris)", async () => {
    const logged: string[] = [];
    const { transport, listener } = await serve({ frameTimeout: 200 }, logged);
    try {
      const peer = await rawPeer(listener.address);
      const frame = rawFrame(REQUEST, 1, "", Buffer.alloc(1000));
      peer.socket.write(frame.subarray(0, 20));
      // A byte now and then does not keep the frame alive: it must be finished in time.
      const drip = setInterval(() => peer.socket.write(frame.subarray(20, 21)), 50);
      try {
        assert.equal(await peer.closedWithin(3_000), true, "a frame that never completes closes its connection");
      } finally {
        clearInterval(drip);
      }
      assert.ok(
        logged.some((l) => l.includes("frame not completed within 200 ms")),
        logged.join("\n"),
      );
      assert.equal(await call(transport, listener.address), "ping");
    } finally {
      listener.destroy();
    }
  });

  it("closes an idle connection with a GoAway, so the client dials afresh", async () => {
    const { transport, listener } = await serve({ idleTimeout: 200 });
    try {
      const conn = await transport.dial(listener.address);
      await conn.call({ header: {}, body: Buffer.from("x") });
      for (let i = 0; i < 300 && !conn.closed; i++) await sleep(10);
      assert.equal(conn.closed, true, "the server ended the idle connection");
      assert.equal(await call(transport, listener.address), "ping");
    } finally {
      listener.destroy();
    }
  });
});

describe("mux limits: connections and calls", () => {
  it("refuses connections past maxConnections with a log line, and serves again once one leaves", async () => {
    const logged: string[] = [];
    const { transport, listener } = await serve({ maxConnections: 5 }, logged);
    try {
      const held = await Promise.all([1, 2, 3, 4, 5].map(() => rawPeer(listener.address)));
      await sleep(50);
      const excess = await Promise.all([1, 2, 3].map(() => rawPeer(listener.address)));
      for (const peer of excess) assert.equal(await peer.closedWithin(2_000), true, "a connection past the cap is closed");
      for (const peer of held) assert.equal(await peer.closedWithin(10), false, "connections within the cap stay open");
      assert.equal(logged.filter((l) => l.includes("connection limit reached")).length, 1, logged.join("\n"));
      held[0].destroy();
      await sleep(50);
      assert.equal(await call(transport, listener.address), "ping");
      for (const peer of held) peer.destroy();
    } finally {
      listener.destroy();
    }
  });

  it("refuses calls past maxCallsPerConnection as not delivered, and keeps the connection", async () => {
    const logged: string[] = [];
    const transport = new MuxTransport({ maxCallsPerConnection: 2, logger: recordingLogger(logged) });
    const gate: Array<() => void> = [];
    const listener = await transport.listen("127.0.0.1:0", {
      handler: (req) => new Promise((resolve) => gate.push(() => resolve({ header: {}, body: req.body }))),
    });
    const conn = await transport.dial(listener.address);
    try {
      const first = conn.call({ header: {}, body: Buffer.from("1") });
      const second = conn.call({ header: {}, body: Buffer.from("2") });
      await assert.rejects(
        conn.call({ header: {}, body: Buffer.from("3") }, { deadline: Date.now() + 2_000 }),
        (err: unknown) => err instanceof NotDeliveredError && /more than 2 calls in flight/.test(err.message),
      );
      assert.ok(
        logged.some((l) => l.includes("calls per connection limit reached")),
        logged.join("\n"),
      );
      for (const open of gate.splice(0)) open();
      assert.deepEqual([Buffer.from((await first).body).toString(), Buffer.from((await second).body).toString()], ["1", "2"]);
      const third = conn.call({ header: {}, body: Buffer.from("3") });
      while (gate.length === 0) await sleep(5);
      gate.shift()!();
      assert.equal(Buffer.from((await third).body).toString(), "3");
    } finally {
      conn.close();
      listener.destroy();
    }
  });
});

/** The highest RSS seen while `during` runs, sampled every 20 ms. */
async function peakRss(rss: () => number, during: Promise<unknown>): Promise<number> {
  let peak = rss();
  let done = false;
  const finished = during.finally(() => (done = true));
  while (!done) {
    peak = Math.max(peak, rss());
    await sleep(20);
  }
  await finished;
  return Math.max(peak, rss());
}

describe("mux limits: memory", () => {
  const stops: Array<() => void> = [];
  after(() => {
    for (const stop of stops) stop();
  });
  const client = new MuxTransport({ logger: recordingLogger([]) });

  it("bounds what a server queues for a client that never reads its replies", async () => {
    const server = await serverProcess({ maxReplyBuffer: 8 * MiB });
    stops.push(server.stop);
    assert.equal(await call(client, server.address), "ping");
    const before = server.rss();
    const peer = await rawPeer(server.address);
    peer.socket.pause(); // never reads
    // 4,000 requests for 64 KiB each: 250 MiB of replies if the server queued them all.
    const requests = Array.from({ length: 4_000 }, (_, i) => rawFrame(REQUEST, 2 * i + 1, "X-Reply-Bytes\x0065536"));
    peer.socket.write(Buffer.concat(requests));
    const peak = await peakRss(server.rss, peer.closedWithin(5_000));
    const grew = peak - before;
    process.stderr.write(
      `never-reading client: server RSS ${(before / MiB).toFixed(0)} MiB -> peak ${(peak / MiB).toFixed(0)} MiB (+${(grew / MiB).toFixed(0)} MiB)\n`,
    );
    assert.ok(grew < 100 * MiB, `server RSS grew by ${(grew / MiB).toFixed(0)} MiB for a client that does not read`);
    assert.equal(await call(client, server.address), "ping");
  });

  it("bounds the partial frames a listener holds across many connections", async () => {
    const server = await serverProcess({ maxPartialFrameBytes: 32 * MiB });
    stops.push(server.stop);
    assert.equal(await call(client, server.address), "ping");
    const before = server.rss();
    // 300 connections, each sending all but the last 100 bytes of a 1 MiB frame: 300 MiB held if unbounded.
    const partial = rawFrame(REQUEST, 1, "", Buffer.alloc(MiB - 14)).subarray(0, MiB - 100);
    const peers = await Promise.all(Array.from({ length: 300 }, () => rawPeer(server.address)));
    const written = Promise.all(peers.map((peer) => new Promise<void>((resolve) => peer.socket.write(partial, () => resolve())))).then(() => sleep(300));
    const peak = await peakRss(server.rss, Promise.race([written, sleep(10_000)]));
    const grew = peak - before;
    process.stderr.write(
      `300 partial-frame connections: server RSS ${(before / MiB).toFixed(0)} MiB -> peak ${(peak / MiB).toFixed(0)} MiB (+${(grew / MiB).toFixed(0)} MiB)\n`,
    );
    for (const peer of peers) peer.destroy();
    // The 32 MiB budget plus garbage from reading 300 MiB that is not collected yet; unbounded, it held ~290 MiB.
    assert.ok(grew < 200 * MiB, `server RSS grew by ${(grew / MiB).toFixed(0)} MiB holding partial frames`);
    assert.equal(await call(client, server.address), "ping");
  });
});

describe("mux limits: frame reassembly", () => {
  it("copies each byte of a frame trickled 1 KiB at a time a bounded number of times (linear, not quadratic)", () => {
    const KiB = 1024;
    const big = rawFrame(REQUEST, 1, "", Buffer.alloc(2 * MiB - 14));
    const trickled = Array.from({ length: big.length / KiB }, (_, i) => big.subarray(i * KiB, (i + 1) * KiB));
    let frames = 0;
    const reader = new FrameReader({ maxFrameSize: 4 * MiB, maxHeaderCount: 128, maxHeaderBytes: 65536 }, () => frames++);
    for (const chunk of trickled) assert.equal(reader.push(chunk), undefined);
    assert.equal(frames, 1);
    // Each byte is copied in once, plus the copies of a buffer that doubles (at most the frame's
    // size again). Re-joining the partial frame on every read copied ~1,000 times the frame.
    process.stderr.write(`trickled 2 MiB frame: ${reader.copied} bytes copied (${(reader.copied / big.length).toFixed(2)}x the frame)\n`);
    assert.ok(reader.copied <= 3 * big.length, `reassembly copied ${reader.copied} bytes for a ${big.length}-byte frame`);
  });
});
