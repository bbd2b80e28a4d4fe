/**
 * mux-specific behaviour: bad input on the server port closes only that connection (with a
 * logged reason) and the server keeps serving; frame size limits on both sides.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { MicroError } from "../../src/errors/errors.js";
import { MicroHeader } from "../../src/metadata/headers.js";
import { PREFACE } from "../../src/transport/framing/frame.js";
import { decodeHeader, encodeHeader, headerBound, UNSENDABLE, writeHeader } from "../../src/transport/framing/header-block.js";
import { SocketReads } from "../../src/transport/mux/client.js";
import { MuxTransport, splitHostPort } from "../../src/transport/mux/mux.js";
import type { Header, Listener } from "../../src/transport/transport.js";
import { recordingLogger } from "../setup/logger.js";

/** Writes raw bytes to the server and resolves when the server closes the connection. */
function sendRaw(address: string, bytes: Buffer): Promise<{ closed: boolean; received: number }> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port }, () => socket.write(bytes));
    let received = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closed: false, received });
    }, 2_000);
    socket.on("data", (d) => (received += d.length));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ closed: true, received });
    });
  });
}

function frameHeader(length: number, type: number): Buffer {
  const b = Buffer.alloc(14);
  b.writeUInt32BE(length, 0);
  b[4] = type;
  b.writeUInt32BE(1, 6);
  b.writeUInt32BE(0, 10);
  return b;
}

describe("mux transport: bad input", () => {
  const logged: string[] = [];
  const transport = new MuxTransport({ maxFrameSize: 64 * 1024, logger: recordingLogger(logged) });
  let listener: Listener;

  before(async () => {
    listener = await transport.listen("127.0.0.1:0", { handler: async (req) => ({ header: {}, body: req.body }) });
  });
  after(() => listener.destroy());

  async function stillServes(): Promise<void> {
    const conn = await transport.dial(listener.address);
    const rsp = await conn.call({ header: {}, body: Buffer.from("ping") });
    assert.equal(Buffer.from(rsp.body).toString(), "ping");
    conn.close();
  }

  it("closes a connection that sends random bytes, logs why, and keeps serving", async () => {
    const garbage = Buffer.from(Array.from({ length: 4096 }, () => Math.floor(Math.random() * 256)));
    const { closed } = await sendRaw(listener.address, garbage);
    assert.ok(closed);
    assert.ok(
      logged.some((l) => l.includes("not a mux client")),
      logged.join("\n"),
    );
    await stillServes();
  });

  it("closes a connection that announces a frame larger than the maximum", async () => {
    const { closed } = await sendRaw(listener.address, Buffer.concat([PREFACE, frameHeader(10 * 1024 * 1024, 1)]));
    assert.ok(closed);
    assert.ok(
      logged.some((l) => l.includes("exceeds the maximum")),
      logged.join("\n"),
    );
    await stillServes();
  });

  it("closes a connection that sends an unknown frame type", async () => {
    const { closed } = await sendRaw(listener.address, Buffer.concat([PREFACE, frameHeader(10, 99)]));
    assert.ok(closed);
    assert.ok(
      logged.some((l) => l.includes("unknown frame type 99")),
      logged.join("\n"),
    );
    await stillServes();
  });

  it("survives a client that sends half a frame and hangs up", async () => {
    const socket = net.connect(splitHostPort(listener.address));
    await new Promise((r) => socket.once("connect", r));
    socket.end(Buffer.concat([PREFACE, frameHeader(100, 1).subarray(0, 9)]));
    await new Promise((r) => socket.once("close", r));
    await stillServes();
  });

  it("rejects an oversize request on the client with 413 before writing it", async () => {
    const conn = await transport.dial(listener.address);
    await assert.rejects(conn.call({ header: {}, body: Buffer.alloc(100 * 1024) }), (err: unknown) => err instanceof MicroError && err.code === 413);
    const rsp = await conn.call({ header: {}, body: Buffer.from("same connection still works") });
    assert.equal(Buffer.from(rsp.body).toString(), "same connection still works");
    conn.close();
  });

  it("refuses a stream message over the frame size with 413 and keeps the stream usable", async () => {
    const echo = await transport.listen("127.0.0.1:0", {
      handler: async () => ({ header: {}, body: Buffer.alloc(0) }),
      streamHandler: (_req, stream) => {
        void (async () => {
          for (let m = await stream.recv(); m; m = await stream.recv()) await stream.send(m);
          stream.end();
        })();
      },
    });
    try {
      const conn = await transport.dial(echo.address);
      const stream = conn.stream({ header: {}, body: Buffer.alloc(0) });
      await assert.rejects(stream.send({ header: {}, body: Buffer.alloc(100 * 1024) }), (err: unknown) => err instanceof MicroError && err.code === 413);
      await stream.send({ header: {}, body: Buffer.from("small") });
      stream.end();
      assert.equal(Buffer.from((await stream.recv())!.body).toString(), "small");
      conn.close();
    } finally {
      echo.destroy();
    }
  });

  it("answers a response that would exceed the frame size with a 413 error", async () => {
    const big = await transport.listen("127.0.0.1:0", { handler: async () => ({ header: {}, body: Buffer.alloc(200 * 1024) }) });
    try {
      const conn = await transport.dial(big.address);
      const rsp = await conn.call({ header: {}, body: Buffer.from("x") });
      assert.equal(MicroError.parse(rsp.header[MicroHeader.Error]).code, 413);
      conn.close();
    } finally {
      big.destroy();
    }
  });

  it("drops a connection whose peer stops answering, found by a ping after a timeout", async () => {
    // A peer that takes bytes and never answers: what a network partition looks like.
    const silent = net.createServer((socket) => socket.on("data", () => {}));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const probing = new MuxTransport({ probeTimeout: 200, logger: recordingLogger([]) });
      const conn = await probing.dial(`127.0.0.1:${port}`);
      await assert.rejects(
        conn.call({ header: {}, body: Buffer.from("x") }, { deadline: Date.now() + 100 }),
        (err: unknown) => err instanceof MicroError && err.code === 408,
      );
      assert.equal(conn.closed, false, "one timeout alone does not condemn the connection");
      for (let i = 0; i < 100 && !conn.closed; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(conn.closed, true, "no pong within the probe timeout: the connection is dropped");
    } finally {
      silent.close();
    }
  });
});

describe("mux client reads", () => {
  it("keeps an answer's body intact while later answers arrive (the socket's read buffer is reused)", async () => {
    const transport = new MuxTransport({ logger: recordingLogger([]) });
    const listener = await transport.listen("127.0.0.1:0", { handler: async (req) => ({ header: {}, body: req.body }) });
    const conn = await transport.dial(listener.address);
    try {
      const first = (await conn.call({ header: {}, body: Buffer.alloc(300, "a") })).body;
      const later = await Promise.all([conn.call({ header: {}, body: Buffer.alloc(300, "b") }), conn.call({ header: {}, body: Buffer.alloc(70_000, "c") })]);
      assert.equal(Buffer.from(first).toString(), "a".repeat(300));
      assert.equal(Buffer.from(later[0].body).toString(), "b".repeat(300));
      assert.equal(Buffer.from(later[1].body).toString(), "c".repeat(70_000));
    } finally {
      conn.close();
      listener.destroy();
    }
  });

  it("hands bytes read before a connection took the socket to it first, intact", () => {
    const reads = new SocketReads();
    const { buffer, callback } = reads.onread;
    buffer.write("early", 0, "latin1");
    callback(5, buffer);
    buffer.fill(0); // the next read lands here
    const got: string[] = [];
    reads.attach({ receive: (chunk, length) => got.push(chunk.toString("latin1", 0, length)) });
    buffer.write("later", 0, "latin1");
    callback(5, buffer);
    assert.deepEqual(got, ["early", "later"]);
  });
});

describe("mux frame header blocks", () => {
  it("writes header objects byte for byte as their text encoding, UTF-8 included", () => {
    const headers: Header[] = [
      {},
      { [MicroHeader.Endpoint]: "Greeter.Hello" },
      { [MicroHeader.Service]: "greeter", [MicroHeader.Id]: "17", [MicroHeader.Timeout]: "30000000000", "X-Name": "Zoë 🚀 日本", "Ünïcode-Key": "" },
      // Long values take a native copy when they are plain ASCII (a bearer token), the loop otherwise.
      { Authorization: `Bearer ${"eyJhbGciOiJSUzI1NiJ9.".repeat(30)}`, "X-Long-Unicode": `${"x".repeat(80)}é`, "X-Long-Tab": `${"y".repeat(80)}\tz` },
    ];
    for (const header of headers) {
      const text = encodeHeader(header);
      const buf = Buffer.alloc(headerBound(header) + 8, 0xff);
      const end = writeHeader(buf, 4, header);
      assert.equal(end - 4, Buffer.byteLength(text));
      assert.ok(end - 4 <= headerBound(header));
      assert.deepEqual(buf.subarray(4, end), Buffer.from(text, "utf8"));
      assert.deepEqual(decodeHeader(buf.subarray(4, end)), header);
    }
  });

  it("refuses NUL, CR and LF in long values as in short ones", () => {
    for (const bad of ["\0", "\r", "\n"]) {
      const header: Header = { Authorization: `Bearer ${"a".repeat(200)}${bad}Micro-Endpoint` };
      assert.equal(writeHeader(Buffer.alloc(headerBound(header)), 0, header), UNSENDABLE, JSON.stringify(bad));
    }
  });

  it("decodes header blocks in place, the same text whether or not a string came from its cache", () => {
    // Many distinct names and values of equal length go through the same cache slots: every
    // decode must still give back exactly the bytes of its own block.
    const letters = (n: number): string => Array.from({ length: 4 }, (_, i) => String.fromCharCode(65 + (Math.floor(n / 26 ** i) % 26))).join("");
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2_000; i++) {
        const header: Header = {
          [MicroHeader.Service]: i % 2 ? "greeter" : "greetes",
          [`X-${letters(i)}`]: letters(i * 7 + round),
          [MicroHeader.Id]: String(i),
          Timeout: "0",
          "X-Empty": "",
          "X-Ünïcode": `naïve ${i}`,
        };
        const block = Buffer.from(`junk${encodeHeader(header)}junk`, "utf8");
        assert.deepEqual(decodeHeader(block, 4, block.length - 4), header);
      }
    }
    assert.deepEqual(decodeHeader(Buffer.alloc(0)), {});
    assert.equal(decodeHeader(Buffer.from("lonely-key")), 'header "lonely-key" has no value', "a key without a value is refused");
  });

  it("decodes long values (tokens) exactly, first, last or alone in a block, and refuses CR or LF in them", () => {
    // Long values are scanned natively and come from a cache of their own: tokens of one length
    // share its slots, and a block's last value has no NUL after it while the bytes beyond do.
    for (let i = 0; i < 500; i++) {
      const token = `Bearer ${String(i).padStart(4, "0")}.${"t".repeat(300)}.${i % 7}`;
      const headers: Header[] = [
        { Authorization: token },
        { Authorization: token, [MicroHeader.Endpoint]: "Greeter.Hello" },
        { [MicroHeader.Endpoint]: "Greeter.Hello", Authorization: token },
        { [`X-${"k".repeat(70)}`]: `${"ü".repeat(40)}${i}`, [MicroHeader.Id]: String(i) },
      ];
      for (const header of headers) {
        const block = Buffer.from(`\0junk${encodeHeader(header)}\0junk\0`, "utf8");
        assert.deepEqual(decodeHeader(block, 5, block.length - 6), header);
      }
    }
    for (const bad of ["\r", "\n"]) {
      const block = Buffer.from(`Authorization\0Bearer ${"a".repeat(200)}${bad}Micro-Endpoint\0Other.Method`, "utf8");
      assert.equal(decodeHeader(block), "a header name or value contains CR or LF", JSON.stringify(bad));
    }
  });

  it("carries non-ASCII metadata through a call", async () => {
    const transport = new MuxTransport();
    const listener = await transport.listen("127.0.0.1:0", { handler: async (request) => ({ header: {}, body: Buffer.from(request.header["X-Name"]) }) });
    const conn = await transport.dial(listener.address);
    try {
      const response = await conn.call({ header: { [MicroHeader.Endpoint]: "Echo.Name", "X-Name": "Zoë 🚀" }, body: Buffer.alloc(0) });
      assert.equal(Buffer.from(response.body).toString("utf8"), "Zoë 🚀");
    } finally {
      conn.close();
      await listener.close();
    }
  });
});
