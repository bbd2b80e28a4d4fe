/**
 * What one peer can make an HTTP transport server hold, with small limits so that each case is
 * quick: heads and bodies that never finish, silent and idle connections, too many headers,
 * too many connections, a client that never reads its replies, garbage, and trickled messages
 * (O(n) reassembly). Each case ends with a normal call succeeding on the same server.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, afterEach, before, describe, it } from "node:test";
import { MicroError } from "../../src/errors/errors.js";
import { RateLimitedLog } from "../../src/logger/rate-limited.js";
import { MicroHeader } from "../../src/metadata/headers.js";
import { Server } from "../../src/server/server.js";
import { HttpTransport, type HttpTransportOptions } from "../../src/transport/http/http.js";
import { HttpParser } from "../../src/transport/http/parser.js";
import { splitHostPort } from "../../src/transport/tcp.js";
import { type Listener, type Message, NotDeliveredError } from "../../src/transport/transport.js";
import { LogRecorder } from "../setup/logger.js";

const LIMITS: HttpTransportOptions = {
  headerTimeout: 300,
  bodyTimeout: 300,
  idleTimeout: 400,
  maxHeaders: 20,
  maxHeaderBytes: 4096,
  maxMessageSize: 64 * 1024,
  maxConnections: 64,
  maxCallsPerConnection: 4,
  maxWriteBuffer: 1024 * 1024,
  writeTimeout: 500,
  logInterval: 0,
};

/** Fresh replies of `size` bytes (a shared buffer would not show buffered replies in RSS). */
const echo = async (req: Message): Promise<Message> => {
  const size = Number(req.header["Reply-Size"] ?? 0);
  if (size > 0) return { header: {}, body: Buffer.alloc(size, 1) };
  return { header: { [MicroHeader.ContentType]: req.header[MicroHeader.ContentType] ?? "text/plain" }, body: req.body };
};

const post = (headers: Record<string, string>, body = ""): string =>
  `POST / HTTP/1.1\r\nHost: x\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("")}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

interface Peer {
  socket: net.Socket;
  /** Everything the server wrote so far. */
  text(): string;
  /** Resolves true once the server ended the connection (its FIN or a reset), false after `ms`. */
  closed(ms: number): Promise<boolean>;
  /** Resolves true once the socket is gone altogether (the server dropped it), false after `ms`. */
  gone(ms: number): Promise<boolean>;
}

/**
 * A raw connection that, like an attacker, never closes its own side: only the server can end
 * it (allowHalfOpen keeps our side open after the server's FIN).
 */
async function connectRaw(address: string, options: { read?: boolean } = {}): Promise<Peer> {
  const socket = net.connect({ ...splitHostPort(address), allowHalfOpen: true });
  await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let text = "";
  const gone = new Promise<boolean>((resolve) => socket.once("close", () => resolve(true)));
  const ended = Promise.race([gone, new Promise<boolean>((resolve) => socket.once("end", () => resolve(true)))]);
  socket.on("error", () => {});
  if (options.read === false) socket.pause();
  else socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
  return { socket, text: () => text, closed: (ms) => within(ended, ms), gone: (ms) => within(gone, ms) };
}

/** `event`'s value, or false if it has not happened after `ms`. */
async function within(event: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([event, timeout]);
  clearTimeout(timer);
  return result;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("http transport limits", () => {
  const log = new LogRecorder();
  const transport = new HttpTransport({ ...LIMITS, logger: log });
  let listener: Listener;
  const peers: Peer[] = [];
  const open = async (options?: { read?: boolean }): Promise<Peer> => {
    const peer = await connectRaw(listener.address, options);
    peers.push(peer);
    return peer;
  };

  before(async () => {
    listener = await transport.listen("127.0.0.1:0", { handler: echo });
  });
  // Like real clients, test peers close once done (a peer that never does is cut off after 2 s).
  afterEach(() => {
    for (const peer of peers.splice(0)) peer.socket.destroy();
  });
  after(() => listener.destroy());

  /** A normal call through a fresh client connection. */
  async function stillServes(): Promise<void> {
    const conn = await new HttpTransport({ logger: log }).dial(listener.address);
    try {
      const reply = await conn.call({ header: { [MicroHeader.Endpoint]: "Echo.Call" }, body: Buffer.from("ok") }, { deadline: Date.now() + 5_000 });
      assert.equal(Buffer.from(reply.body).toString(), "ok");
    } finally {
      conn.close();
    }
  }

  it("answers a head still incomplete after headerTimeout with 408, and cuts off a peer that keeps its side open", async () => {
    const peer = await open();
    peer.socket.write("POST / HTTP/1.1\r\nHost: x\r\n");
    // Slowloris: one more header byte every 50 ms, never the blank line.
    const trickle = setInterval(() => peer.socket.writable && peer.socket.write("X"), 50);
    try {
      assert.ok(await peer.closed(5_000), "the server ends the connection");
      // The peer keeps its side open and writing: the server drops the socket all the same.
      assert.ok(await peer.gone(5_000), "the socket is dropped");
    } finally {
      clearInterval(trickle);
    }
    assert.match(peer.text(), /^HTTP\/1\.1 408 /);
    const line = log.find("request head not completed in time");
    assert.ok(line, "the limit hit is logged");
    assert.match(String(line.fields.remote), /^127\.0\.0\.1:\d+$/);
    await stillServes();
  });

  it("answers a body still incomplete after bodyTimeout with 408 and closes", async () => {
    const peer = await open();
    peer.socket.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b");
    assert.ok(await peer.closed(5_000), "the connection is closed");
    assert.match(peer.text(), /^HTTP\/1\.1 408 /);
    assert.ok(log.find("request body not completed in time"));
    await stillServes();
  });

  it("closes a connection that never sends a byte, and a keep-alive connection left idle, after idleTimeout", async () => {
    const silent = await open();
    const idle = await open();
    idle.socket.write(post({ [MicroHeader.Endpoint]: "Echo.Call" }, "hi"));
    assert.ok(await silent.closed(5_000), "the silent connection is closed");
    assert.ok(await idle.closed(5_000), "the idle keep-alive connection is closed");
    assert.match(idle.text(), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhi$/);
    await stillServes();
  });

  const refused: Array<[string, () => string, number, string]> = [
    ["more header lines than maxHeaders", () => post(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`X-H${i}`, "v"]))), 431, "header fields"],
    ["a head over maxHeaderBytes", () => post({ "X-Big": "y".repeat(5000) }), 431, "too large"],
    ["a NUL in a header value", () => post({ "X-Nul": "a\0Micro-Endpoint: Other.Method" }), 400, "control character"],
    ["a bare CR in a header value", () => post({ "X-Cr": "a\rb" }), 400, "control character"],
    ["two different Content-Lengths", () => "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", 400, "conflicting"],
    ["two Transfer-Encodings", () => "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "conflicting"],
    ["a request target that is not a path", () => "POST x\u0001y HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400, "malformed request line"],
    ["a body over maxMessageSize", () => post({}, "z".repeat(70 * 1024)), 413, "exceeds"],
  ];
  for (const [what, request, status, reason] of refused) {
    it(`answers ${what} with ${status} and closes`, async () => {
      const peer = await open();
      peer.socket.write(request());
      assert.ok(await peer.closed(3_000), "the connection is closed");
      assert.match(peer.text(), new RegExp(`^HTTP/1\\.1 ${status} [^]*${reason}`));
      await stillServes();
    });
  }

  it("refuses connections past maxConnections with 503 and a log line; clients already connected go on", async () => {
    const capLog = new LogRecorder();
    const capped = await new HttpTransport({ ...LIMITS, idleTimeout: 30_000, maxConnections: 4, logger: capLog }).listen("127.0.0.1:0", { handler: echo });
    const client = await new HttpTransport({ logger: capLog }).dial(capped.address); // holds one pooled connection
    const squatters: Peer[] = [];
    try {
      for (let i = 0; i < 3; i++) squatters.push(await connectRaw(capped.address));
      const excess = await connectRaw(capped.address);
      squatters.push(excess);
      assert.ok(await excess.closed(3_000), "the connection past the cap is closed");
      assert.match(excess.text(), /^HTTP\/1\.1 503 /);
      for (const squatter of squatters.slice(0, 3)) assert.equal(await squatter.closed(10), false, "connections under the cap stay");
      const line = capLog.find("connection limit reached");
      assert.ok(line, "the refusal is logged");
      assert.match(String(line.fields.remote), /^127\.0\.0\.1:\d+$/);
      // A new client is told the call was not delivered (safe to retry on another node).
      const late = await new HttpTransport({ logger: capLog }).dial(capped.address);
      await assert.rejects(late.call({ header: {}, body: Buffer.from("x") }), (err: unknown) => err instanceof NotDeliveredError);
      late.close();
      // The client that already had its connection is served.
      const reply = await client.call({ header: { [MicroHeader.Endpoint]: "Echo.Call" }, body: Buffer.from("still") }, { deadline: Date.now() + 5_000 });
      assert.equal(Buffer.from(reply.body).toString(), "still");
    } finally {
      client.close();
      for (const peer of squatters) peer.socket.destroy();
      capped.destroy();
    }
  });

  it("refuses the connection whose partial request takes the bytes held past maxBufferedBytes with 503; the others complete", async () => {
    const budgetLog = new LogRecorder();
    const options = { ...LIMITS, bodyTimeout: 10_000, maxMessageSize: 200 * 1024, maxBufferedBytes: 400 * 1024, logger: budgetLog };
    const budgeted = await new HttpTransport(options).listen("127.0.0.1:0", { handler: echo });
    const uploads: Peer[] = [];
    try {
      const head = `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${190 * 1024}\r\n\r\n`;
      for (let i = 0; i < 3; i++) {
        const peer = await connectRaw(budgeted.address);
        uploads.push(peer);
        peer.socket.write(head + "a".repeat(150 * 1024));
        await sleep(100); // received before the next one starts
      }
      const [first, second, third] = uploads;
      assert.ok(await third.closed(3_000), "the third upload is refused");
      assert.match(third.text(), /^HTTP\/1\.1 503 /);
      assert.ok(
        budgetLog.lines.find((line) => line.msg.includes("too many bytes")),
        "the refusal is logged",
      );
      for (const peer of [first, second]) peer.socket.write("b".repeat(40 * 1024));
      for (let i = 0; i < 300 && !(first.text().includes("200 OK") && second.text().includes("200 OK")); i++) await sleep(10);
      assert.match(first.text(), /^HTTP\/1\.1 200 OK/);
      assert.match(second.text(), /^HTTP\/1\.1 200 OK/);
    } finally {
      for (const peer of uploads) peer.socket.destroy();
      budgeted.destroy();
    }
  });

  it("stops reading a client that never reads its replies, keeps its RSS bounded, and drops it after writeTimeout", async (t) => {
    const peer = await open({ read: false });
    const dropLine = () => log.lines.find((line) => line.fields.remote === `127.0.0.1:${peer.socket.localPort}` && /replies|reply bytes/.test(line.msg));
    const before = process.memoryUsage.rss();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
    try {
      // 4,000 pipelined calls of 64 KiB replies each: 250 MiB if the server answered them all.
      const request = post({ [MicroHeader.Endpoint]: "Echo.Call", "Reply-Size": String(64 * 1024) });
      peer.socket.write(request.repeat(4_000));
      // A paused socket hears nothing, so the server's log says when it gave up on the peer.
      for (let i = 0; i < 1_000 && !dropLine(); i++) await sleep(10);
    } finally {
      clearInterval(sampler);
    }
    const grown = (peak - before) / 1024 / 1024;
    t.diagnostic(`RSS ${(before / 2 ** 20).toFixed(1)} MiB before, peak ${(peak / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(dropLine(), "the drop is logged");
    assert.ok(grown < 64, `RSS grew by ${grown.toFixed(1)} MiB`);
    peer.socket.resume();
    assert.ok(await peer.closed(5_000), "the connection is dropped");
    await stillServes();
  });

  it("closes connections sending garbage, pipelined or not, and keeps serving", async () => {
    let seed = 12345;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const sent = Array.from({ length: 20 }, async (_, i) => {
      const peer = await open();
      const garbage = Buffer.from(Array.from({ length: 64 + Math.floor(random() * 4096) }, () => Math.floor(random() * 256)));
      peer.socket.write(i % 2 === 0 ? garbage : Buffer.concat([Buffer.from(post({}, "ok")), garbage]));
      assert.ok(await peer.closed(3_000), `garbage connection ${i} is closed`);
    });
    await Promise.all(sent);
    await stillServes();
  });

  it("runs at most maxCallsPerConnection pipelined calls at once", async () => {
    let running = 0;
    let most = 0;
    const slow = await new HttpTransport({ ...LIMITS, logger: log }).listen("127.0.0.1:0", {
      handler: async (req) => {
        most = Math.max(most, ++running);
        await sleep(20);
        running--;
        return echo(req);
      },
    });
    try {
      const peer = await connectRaw(slow.address);
      peers.push(peer);
      peer.socket.write(post({}, "x").repeat(20));
      for (let i = 0; i < 200 && (peer.text().match(/200 OK/g)?.length ?? 0) < 20; i++) await sleep(10);
      assert.equal(peer.text().match(/200 OK/g)?.length, 20, "every call is answered");
      assert.equal(most, LIMITS.maxCallsPerConnection);
    } finally {
      slow.destroy();
    }
  });

  it("answers pipelined calls answered at once (through respond), each once and in order, past the call limit", async () => {
    const quick = await new HttpTransport({ ...LIMITS, logger: log }).listen("127.0.0.1:0", {
      handler: (req, _call, respond) => {
        respond({ header: {}, body: Buffer.from(`reply ${Buffer.from(req.body).toString()};`) });
        return undefined;
      },
    });
    try {
      const peer = await connectRaw(quick.address);
      peers.push(peer);
      const calls = Array.from({ length: 20 }, (_, i) => i);
      peer.socket.write(calls.map((i) => post({}, String(i))).join(""));
      for (let i = 0; i < 200 && (peer.text().match(/200 OK/g)?.length ?? 0) < 20; i++) await sleep(10);
      assert.deepEqual(
        peer.text().match(/reply \d+;/g),
        calls.map((i) => `reply ${i};`),
      );
    } finally {
      quick.destroy();
    }
  });
});

describe("http transport: limit hits are logged once per interval", () => {
  it("logs the first of 20 bad requests, with its peer, and not the other 19", async () => {
    const log = new LogRecorder();
    const listener = await new HttpTransport({ ...LIMITS, logInterval: 60_000, logger: log }).listen("127.0.0.1:0", { handler: echo });
    try {
      for (let i = 0; i < 20; i++) {
        const peer = await connectRaw(listener.address);
        peer.socket.write("NOT HTTP AT ALL\r\n\r\n");
        assert.ok(await peer.closed(3_000));
        assert.match(peer.text(), /^HTTP\/1\.1 400 /);
        peer.socket.destroy();
      }
      const lines = log.lines.filter((line) => line.msg.includes("bad request"));
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.match(String(lines[0].fields.remote), /^127\.0\.0\.1:\d+$/);
    } finally {
      listener.destroy();
    }
  });
});

describe("RateLimitedLog", () => {
  it("writes the first line of a kind, counts the rest within the interval, and reports the count with the next line", async () => {
    const log = new LogRecorder();
    const limited = new RateLimitedLog(log, 50);
    for (let i = 0; i < 5; i++) limited.warn("limit hit", { i });
    limited.warn("another kind", {});
    await sleep(60);
    limited.warn("limit hit", { i: 5 });
    assert.deepEqual(
      log.lines.map((line) => [line.msg, line.fields.i, line.fields.suppressed]),
      [
        ["limit hit", 0, undefined],
        ["another kind", undefined, undefined],
        ["limit hit", 5, 4],
      ],
    );
  });
});

describe("http transport: bad bodies at the RPC layer", () => {
  it("answers a body that is not JSON with a 400 error naming the problem, and keeps serving", async () => {
    class Greeter {
      async Hello(req: { name: string }): Promise<{ msg: string }> {
        return { msg: `Hello ${req.name}` };
      }
    }
    const server = new Server({ name: "greeter", logger: new LogRecorder() });
    server.handle(new Greeter());
    const listener = await new HttpTransport({ ...LIMITS, logger: new LogRecorder() }).listen("127.0.0.1:0", { handler: server.serve });
    try {
      const conn = await new HttpTransport().dial(listener.address);
      const headers = { [MicroHeader.Endpoint]: "Greeter.Hello", [MicroHeader.Service]: "greeter", [MicroHeader.ContentType]: "application/json" };
      for (const body of ['{"name":', "not json at all", "\u0000\u00ff"]) {
        const reply = await conn.call({ header: headers, body: Buffer.from(body, "latin1") });
        const err = MicroError.parse(reply.header[MicroHeader.Error]);
        assert.equal(err.code, 400, `${JSON.stringify(body)} → ${reply.header[MicroHeader.Error]}`);
        assert.match(err.detail, /json|JSON|decode|parse/);
      }
      const ok = await conn.call({ header: headers, body: Buffer.from('{"name":"Ada"}') });
      assert.deepEqual(JSON.parse(Buffer.from(ok.body).toString()), { msg: "Hello Ada" });
      conn.close();
    } finally {
      listener.destroy();
    }
  });
});

describe("http parser: reassembly is O(n)", () => {
  it("copies a head and a body trickled in small reads about once", (t) => {
    const concat = Buffer.concat;
    let copied = 0;
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
      const out = concat(list, total);
      copied += out.length;
      return out;
    }) as typeof Buffer.concat;
    let received: Buffer | undefined;
    try {
      const parser = new HttpParser("request", { maxHeaderBytes: 1024 * 1024, maxHeaders: 1000, maxBodyBytes: 4 * 1024 * 1024 }, (m) => (received = m.body));
      const body = Buffer.alloc(1024 * 1024, 7);
      const head = Buffer.from(
        post(Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`X-Header-${i}`, "v".repeat(100)]))).replace(
          /Content-Length: 0/,
          `Content-Length: ${body.length}`,
        ),
      );
      const message = Buffer.concat([head, body]);
      copied = 0;
      for (let at = 0; at < message.length; at += 256) assert.equal(parser.push(message.subarray(at, at + 256)), undefined);
      assert.ok(received?.equals(body), "the body arrives whole");
      // About head + body once; re-joining per read would copy ~ n²/2 / 256 bytes (GiBs here).
      t.diagnostic(`copied ${copied} bytes to reassemble a ${message.length}-byte message`);
      assert.ok(copied < 3 * message.length, `copied ${copied} bytes for a ${message.length}-byte message`);
    } finally {
      Buffer.concat = concat;
    }
  });
});
