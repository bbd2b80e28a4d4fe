/**
 * mux frame validation (issue 12): every field of every frame is checked before use; a bad
 * frame is answered with a protocol error, its connection is closed with a logged reason, and
 * the server keeps serving. Header injection through NUL/CR/LF is refused on both ends.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { MicroError } from "../../src/errors/errors.js";
import { MicroHeader } from "../../src/metadata/headers.js";
import { MuxTransport } from "../../src/transport/mux/mux.js";
import { splitHostPort } from "../../src/transport/tcp.js";
import type { Listener, Message } from "../../src/transport/transport.js";
import { recordingLogger } from "../setup/logger.js";
import { rawFrame, rawPeer } from "./mux-peer.js";

const REQUEST = 1;
const RESPONSE = 2;
const CANCEL = 3;
const GO_AWAY = 4;
const PING = 6;
const DATA = 8;
const WINDOW = 10;

describe("mux frame validation", () => {
  const logged: string[] = [];
  const seen: Message[] = [];
  const transport = new MuxTransport({ maxHeaderCount: 16, logger: recordingLogger(logged) });
  let listener: Listener;

  before(async () => {
    listener = await transport.listen("127.0.0.1:0", {
      handler: async (req) => {
        seen.push(req);
        return { header: { [MicroHeader.Endpoint]: req.header[MicroHeader.Endpoint] ?? "" }, body: req.body };
      },
    });
  });
  after(() => listener.destroy());

  async function stillServes(): Promise<void> {
    const conn = await transport.dial(listener.address);
    const rsp = await conn.call({ header: { [MicroHeader.Endpoint]: "Echo.Echo" }, body: Buffer.from("ping") });
    assert.equal(Buffer.from(rsp.body).toString(), "ping");
    conn.close();
  }

  /** Sends `frames` after the preface; the server must close the connection and log `why`. */
  async function refused(frames: Buffer[], why: string): Promise<void> {
    const before = logged.length;
    const peer = await rawPeer(listener.address);
    peer.socket.write(Buffer.concat(frames));
    assert.equal(await peer.closedWithin(2_000), true, `the server closes the connection (${why})`);
    const lines = logged.slice(before).join("\n");
    assert.ok(lines.includes(why), `logged ${JSON.stringify(why)}; got:\n${lines}`);
    await stillServes();
  }

  it("survives a request on stream id 0, closes that connection, and keeps serving", async () => {
    await refused([rawFrame(REQUEST, 0, `${MicroHeader.Endpoint}\0Echo.Echo`, Buffer.from("x"))], "Request frame on stream 0");
  });

  it("answers a protocol error with a GoAway frame carrying the error before closing", async () => {
    const peer = await rawPeer(listener.address);
    peer.socket.write(rawFrame(REQUEST, 2, "", Buffer.from("x")));
    assert.equal(await peer.closedWithin(2_000), true);
    const bytes = peer.received();
    assert.equal(bytes[4], GO_AWAY, "the server's last frame is a GoAway");
    const header = bytes.subarray(14, 14 + bytes.readUInt32BE(10)).toString();
    assert.match(header, /protocol error: Request frame on stream 2 \(calls use odd stream ids\)/);
  });

  const cases: Array<[string, Buffer[], string]> = [
    ["a request on an even (server-owned) stream id", [rawFrame(REQUEST, 4)], "calls use odd stream ids"],
    ["a ping on a call's stream", [rawFrame(PING, 1)], "connection frames use stream 0"],
    ["a Response from a client", [rawFrame(RESPONSE, 1)], "a client may not send Response frames"],
    ["a GoAway from a client", [rawFrame(GO_AWAY, 0)], "a client may not send GoAway frames"],
    ["unknown flags on a request", [rawFrame(REQUEST, 1, "", Buffer.alloc(0), 0x80)], "flags 128 on a Request frame"],
    ["flags on a data frame", [rawFrame(DATA, 1, "", Buffer.alloc(0), 1)], "flags 1 on a Data frame"],
    ["a window frame with a short body", [rawFrame(WINDOW, 1, "", Buffer.alloc(2))], "Window frame with a 2-byte body"],
    ["a cancel frame with a body", [rawFrame(CANCEL, 1, "", Buffer.alloc(3))], "Cancel frame with a 3-byte body"],
    ["a header name without a value", [rawFrame(REQUEST, 1, "lonely")], 'header \\"lonely\\" has no value'],
    ["an empty header name", [rawFrame(REQUEST, 1, "\0value")], "a header with an empty name"],
    ["a header value with a line feed", [rawFrame(REQUEST, 1, "X-A\0b\nc")], "contains CR or LF"],
    [
      "a repeated header name (smuggled by a NUL)",
      [rawFrame(REQUEST, 1, `${MicroHeader.Endpoint}\0A.B\0X-Meta\0hi\0${MicroHeader.Endpoint}\0Other.Method`)],
      "appears twice",
    ],
    ["a reused stream id", [rawFrame(REQUEST, 1), rawFrame(REQUEST, 1)], "stream id 1 reused while in flight"],
  ];
  for (const [name, frames, why] of cases) {
    it(`closes a connection that sends ${name}, and keeps serving`, () => refused(frames, why));
  }

  it("closes a connection whose frame holds more headers than the limit (no 100,000-header blocks)", async () => {
    const block = Array.from({ length: 1_000 }, (_, i) => `X-H${i}\0v`).join("\0");
    await refused([rawFrame(REQUEST, 1, block)], "more than 16 headers");
  });

  it("never runs a smuggled endpoint", () => {
    assert.ok(!seen.some((req) => req.header[MicroHeader.Endpoint] === "Other.Method"), "no handler saw Other.Method");
  });
});

describe("mux header injection on the client", () => {
  it("refuses to send metadata holding NUL, CR or LF, and the server never sees it", async () => {
    const seen: Message[] = [];
    const transport = new MuxTransport({ logger: recordingLogger([]) });
    const listener = await transport.listen("127.0.0.1:0", {
      handler: async (req) => {
        seen.push(req);
        return { header: {}, body: Buffer.alloc(0) };
      },
    });
    const conn = await transport.dial(listener.address);
    try {
      for (const value of ["hi\0Micro-Endpoint\0Other.Method", "line\r\nMicro-Endpoint: Other.Method", "a\nb"]) {
        await assert.rejects(
          conn.call({ header: { [MicroHeader.Endpoint]: "Echo.Echo", "X-Meta": value }, body: Buffer.alloc(0) }),
          (err: unknown) => err instanceof MicroError && err.code === 400 && /NUL, CR or LF/.test(err.detail),
        );
      }
      await assert.rejects(conn.call({ header: { "X\0Bad": "v" }, body: Buffer.alloc(0) }), (err: unknown) => err instanceof MicroError && err.code === 400);
      // Over the header limits the peer enforces: refused here, rather than losing the connection.
      const many = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`X-H${i}`, "v"]));
      await assert.rejects(
        conn.call({ header: many, body: Buffer.alloc(0) }),
        (err: unknown) => err instanceof MicroError && err.code === 400 && /more than 128 headers/.test(err.detail),
      );
      await assert.rejects(
        conn.call({ header: { "X-Big": "b".repeat(70_000) }, body: Buffer.alloc(0) }),
        (err: unknown) => err instanceof MicroError && err.code === 400 && /exceed the maximum of 65536/.test(err.detail),
      );
      const stream = conn.stream({ header: { "X-Meta": "hi\0Micro-Endpoint\0Other.Method" }, body: Buffer.alloc(0) });
      await assert.rejects(stream.recv(), (err: unknown) => err instanceof MicroError && err.code === 400);
      // The connection is still good, and nothing with the smuggled endpoint arrived.
      await conn.call({ header: { [MicroHeader.Endpoint]: "Echo.Echo", "X-Meta": "fine" }, body: Buffer.alloc(0) });
      assert.equal(seen.length, 1);
      assert.equal(seen[0].header["X-Meta"], "fine");
    } finally {
      conn.close();
      listener.destroy();
    }
  });
});

describe("mux listener address", () => {
  it("a service with no listen host binds only the host it advertises, not every interface", async () => {
    const { createService, createLogger } = await import("../../src/index.js");
    const { MemoryRegistry } = await import("../../src/registry/memory.js");
    const service = createService({ name: "bind-check", registry: new MemoryRegistry(), logger: createLogger({ level: "silent" }), address: ":0" });
    await service.start();
    try {
      const { host, port } = splitHostPort(service.address!);
      assert.equal(host, "127.0.0.1");
      // 127.0.0.2 is this machine too (all of 127/8 is loopback): open only on a wildcard bind.
      const reached = await new Promise<boolean>((resolve) => {
        const socket = net.connect({ host: "127.0.0.2", port }, () => resolve(true));
        socket.on("error", () => resolve(false));
        socket.on("connect", () => socket.destroy());
      });
      assert.equal(reached, false, `port ${port} must not be open on 127.0.0.2`);
    } finally {
      await service.stop();
    }
  });
});
