/**
 * The NATS transport against the shared NATS server: the transport conformance suite, plus what
 * only NATS has (subject addresses, garbage on the listener subject, peers that vanish).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { connect } from "@nats-io/transport-node";
import { MicroError } from "../../src/errors/errors.js";
import { resolveTransport } from "../../src/service/resolve.js";
import { DEFAULT_MAX_HEADER_BYTES } from "../../src/transport/framing/header-block.js";
import { NatsTransport } from "../../src/transport/nats/nats.js";
import { BATCHES, decodeFrame, encodeFrame, encodeFrameFrom, FrameType, TAGGED } from "../../src/transport/nats/wire.js";
import { ConnectionLostError, type Message, NotDeliveredError } from "../../src/transport/transport.js";
import { transportConformance } from "../conformance/transport.js";
import { quiet, recordingLogger } from "../setup/logger.js";
import { requireSharedNats } from "../setup/servers.js";
import { until } from "../setup/wait.js";

const servers = await requireSharedNats();

transportConformance("nats", () => new NatsTransport({ servers, logger: quiet }), "");

interface RawAnswer {
  subject: string;
  data: Uint8Array;
}

const msg = (body: string): Message => ({ header: {}, body: Buffer.from(body) });
const text = (m: Message): string => Buffer.from(m.body).toString();
const echo = async (req: Message): Promise<Message> => msg(`echo ${text(req)}`);

/**
 * Ends the NATS connection under a listener or client connection, with no word of ours to the
 * other side. Drained (its subscriptions removed, then closed) rather than closed: on Debian's
 * nats-server 2.9.10, a subscription of a connection ended by nats.js's close() can outlive it,
 * so publishes to it get no "no responders" for seconds (no 503 within 2 s in 8 to 24 of 40
 * rounds, against none of 40 on nats-server 2.12 and none of 30 when the subscriber's process
 * is killed, as a crashed client's would be).
 */
async function vanish(side: unknown): Promise<void> {
  await (side as { link: { nc: { drain(): Promise<void> } } }).link.nc.drain();
}

describe("nats transport", () => {
  const closers: Array<() => unknown> = [];
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  /**
   * A client made by hand on a raw connection, as an older build's: pings the listener at
   * `address` from `inbox` and sends `request` as call 7. Returns the Pong and the answer, whichever
   * of `inbox` and `inbox.*` they came on (the reply subject must be `<inbox>.<id>`: nats.js's own
   * request inboxes are not).
   */
  async function handMadeCall(address: string, inbox: string, request: Buffer): Promise<{ pong: RawAnswer; reply: RawAnswer }> {
    const raw = await connect({ servers });
    closers.push(() => raw.close());
    const answers: RawAnswer[] = [];
    for (const subject of [inbox, `${inbox}.*`]) raw.subscribe(subject, { callback: (_err, m) => void answers.push({ subject: m.subject, data: m.data }) });
    raw.publish(address, encodeFrame(FrameType.Ping, "", new Uint8Array(0)), { reply: `${inbox}.0` });
    raw.publish(address, request, { reply: `${inbox}.7` });
    await until(() => answers.length >= 2, 5_000, "the pong and the answer");
    const [pong, reply] = [...answers].sort((a, b) => a.subject.localeCompare(b.subject));
    return { pong, reply };
  }

  it("listens on a subject of its own, whatever address it is given", async () => {
    const transport = new NatsTransport({ servers, logger: quiet });
    const a = await transport.listen("127.0.0.1:0", { handler: echo });
    const b = await transport.listen(":0", { handler: echo });
    closers.push(
      () => a.destroy(),
      () => b.destroy(),
    );
    assert.match(a.address, /^micro\.transport\.[0-9a-f]+$/);
    assert.notEqual(a.address, b.address);
    const conn = await transport.dial(b.address);
    assert.equal(text(await conn.call(msg("b"))), "echo b");
    conn.close();
  });

  it("logs and drops garbage and truncated payloads on the listener subject, and keeps serving", async () => {
    const warnings: string[] = [];
    const log = recordingLogger(warnings);
    // logInterval 0: every bad message is logged (by default one line per kind per 10 s).
    const transport = new NatsTransport({ servers, logger: log, logInterval: 0 });
    const listener = await transport.listen("", { handler: echo });
    closers.push(() => listener.destroy());
    const raw = await connect({ servers });
    closers.push(() => raw.close());
    raw.publish(listener.address, Buffer.from("certainly not a frame"));
    raw.publish(listener.address, Buffer.from([1, 0, 0, 0, 0x10, 0]), { reply: "_INBOX.garbage.1" }); // header block runs past the end
    raw.publish(listener.address, Buffer.from([1, 0]), { reply: "_INBOX.garbage.2" }); // truncated prefix
    raw.publish(listener.address, Buffer.from([200, 0, 0, 0, 0, 0])); // unknown frame type
    raw.publish(`${listener.address}.c._INBOX.garbage.3`, Buffer.from("junk on the control subject"));
    await raw.flush();
    const conn = await transport.dial(listener.address);
    assert.equal(text(await conn.call(msg("still here"))), "echo still here");
    conn.close();
    for (let i = 0; i < 100 && warnings.length < 5; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(warnings.filter((w) => w.includes("dropped a bad message")).length, 5, warnings.join("\n"));
  });

  it("refuses new calls after close() with NotDeliveredError while a call in flight completes", async () => {
    const transport = new NatsTransport({ servers, logger: quiet });
    let release: () => void = () => {};
    const listener = await transport.listen("", {
      handler: async (req) => {
        if (text(req) === "slow") await new Promise<void>((r) => (release = r));
        return echo(req);
      },
    });
    closers.push(() => listener.destroy());
    const conn = await transport.dial(listener.address);
    const inflight = conn.call(msg("slow"));
    await new Promise((r) => setTimeout(r, 20));
    await listener.close();
    await assert.rejects(conn.call(msg("new")), (err: unknown) => err instanceof NotDeliveredError);
    assert.equal(conn.closed, true, "the connection takes no more calls");
    await assert.rejects(transport.dial(listener.address), (err: unknown) => err instanceof NotDeliveredError);
    release();
    assert.equal(text(await inflight), "echo slow");
  });

  it("fails calls in flight with ConnectionLostError and streams with 503 when the listener is destroyed", async () => {
    const transport = new NatsTransport({ servers, logger: quiet });
    const listener = await transport.listen("", { handler: () => new Promise(() => {}), streamHandler: () => {} });
    const conn = await transport.dial(listener.address);
    const call = conn.call(msg("x"));
    const stream = conn.stream(msg(""));
    await new Promise((r) => setTimeout(r, 50));
    listener.destroy();
    await assert.rejects(call, (err: unknown) => err instanceof ConnectionLostError);
    await assert.rejects(stream.recv(), (err: unknown) => err instanceof MicroError && err.code === 503);
    conn.close();
  });

  it("notices a server that vanished without a word (its NATS connection closed)", async () => {
    const serverSide = new NatsTransport({ servers, logger: quiet });
    const clientSide = new NatsTransport({ servers, logger: quiet, probeInterval: 100 });
    let opened: () => void = () => {};
    const streamOpened = new Promise<void>((r) => (opened = r));
    const listener = await serverSide.listen("", { handler: () => new Promise(() => {}), streamHandler: () => opened() });
    const conn = await clientSide.dial(listener.address);
    const call = conn.call(msg("x"));
    const stream = conn.stream(msg(""));
    await streamOpened;
    // End the server's NATS connection under the listener: no goodbye reaches the client. Drained,
    // not closed: see vanish().
    await vanish(listener);
    await assert.rejects(call, (err: unknown) => err instanceof ConnectionLostError);
    await assert.rejects(stream.recv(), (err: unknown) => err instanceof MicroError && err.code === 503);
    assert.equal(conn.closed, true);
    listener.destroy();
  });

  it("tells a stream's server when its client vanished", async () => {
    const serverSide = new NatsTransport({ servers, logger: quiet, probeInterval: 100 });
    const clientSide = new NatsTransport({ servers, logger: quiet });
    let serverSignal: AbortSignal | undefined;
    const listener = await serverSide.listen("", {
      handler: echo,
      streamHandler: (_req, stream) => {
        serverSignal = stream.signal;
      },
    });
    closers.push(() => listener.destroy());
    const conn = await clientSide.dial(listener.address);
    conn.stream(msg(""));
    await until(() => serverSignal !== undefined, 10_000, "the stream reached its server");
    await vanish(conn);
    // Found by the server's next probe (every 100 ms here); on a loaded machine that can take a while.
    await until(() => serverSignal?.aborted === true, 10_000, "the server's stream was told its client vanished");
  });

  it("rejects a request larger than the server's max_payload with 413", async () => {
    const transport = new NatsTransport({ servers, logger: quiet });
    const listener = await transport.listen("", { handler: echo });
    closers.push(() => listener.destroy());
    const conn = await transport.dial(listener.address);
    await assert.rejects(conn.call({ header: {}, body: Buffer.alloc(8 * 1024 * 1024) }), (err: unknown) => err instanceof MicroError && err.code === 413);
    assert.equal(text(await conn.call(msg("small"))), "echo small");
    conn.close();
  });

  it("shares one NATS connection between listeners and client connections, and closes it after the last", async () => {
    const transport = new NatsTransport({ servers, logger: quiet });
    const listener = await transport.listen("", { handler: echo });
    const conn = await transport.dial(listener.address);
    const link = (x: unknown): { isClosed(): boolean } => (x as { link: { nc: { isClosed(): boolean } } }).link.nc;
    assert.equal(link(listener), link(conn));
    conn.close();
    assert.equal(link(listener).isClosed(), false);
    await listener.close();
    for (let i = 0; i < 100 && !link(listener).isClosed(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(link(listener).isClosed(), true);
  });

  it("drops garbage and answers for unknown calls on the client's inbox, and its calls go on", async () => {
    const warnings: string[] = [];
    const log = recordingLogger(warnings);
    const transport = new NatsTransport({ servers, logger: log });
    let release: () => void = () => {};
    let inbox = "";
    const listener = await transport.listen("", {
      handler: async (req, call) => {
        inbox = call.remote;
        if (text(req) === "slow") await new Promise<void>((r) => (release = r));
        return echo(req);
      },
    });
    closers.push(() => listener.destroy());
    const raw = await connect({ servers });
    closers.push(() => raw.close());
    const conn = await transport.dial(listener.address);
    const inflight = conn.call(msg("slow"));
    for (let i = 0; i < 100 && !inbox; i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(inbox, /^_INBOX\./);
    // A tagged answer for a call that was never made, one whose id field is cut short, an untagged
    // frame and plain garbage, all where tagged answers go.
    raw.publish(inbox, encodeFrameFrom(FrameType.Response, {}, Buffer.from("forged"), 0, 123456)!);
    raw.publish(inbox, Buffer.from([FrameType.Response, TAGGED, 0, 0, 0, 0, 1]));
    raw.publish(inbox, encodeFrame(FrameType.Response, "", Buffer.from("untagged")));
    raw.publish(inbox, Buffer.from("certainly not a frame"));
    await raw.flush();
    assert.equal(text(await conn.call(msg("next"))), "echo next");
    release();
    assert.equal(text(await inflight), "echo slow");
    assert.equal(conn.closed, false);
    assert.equal(warnings.filter((w) => w.includes("dropped a bad message")).length, 1, "bad frames are logged, rate-limited");
    conn.close();
  });

  it("answers a request without TAGGED on its reply subject, as before tagged answers", async () => {
    const transport = new NatsTransport({ servers, logger: quiet });
    const listener = await transport.listen("", { handler: echo });
    closers.push(() => listener.destroy());
    const inbox = `_INBOX.old${process.pid}`;
    const { pong, reply } = await handMadeCall(listener.address, inbox, encodeFrameFrom(FrameType.Request, {}, Buffer.from("old"))!);
    assert.equal(pong.subject, `${inbox}.0`);
    assert.equal((decodeFrame(pong.data) as { flags: number }).flags, TAGGED | BATCHES, "the listener offers tagged answers and takes batches");
    assert.equal(reply?.subject, `${inbox}.7`);
    const frame = decodeFrame(reply.data);
    assert.ok(typeof frame !== "string");
    assert.equal(frame.type, FrameType.Response);
    assert.equal(frame.flags, 0);
    assert.equal(text(frame), "echo old");
  });

  it("with taggedAnswers off, offers none and answers even a TAGGED request on its reply subject", async () => {
    const transport = new NatsTransport({ servers, logger: quiet, taggedAnswers: false });
    const listener = await transport.listen("", { handler: echo });
    closers.push(() => listener.destroy());
    const inbox = `_INBOX.untagged${process.pid}`;
    const { pong, reply } = await handMadeCall(listener.address, inbox, encodeFrameFrom(FrameType.Request, {}, Buffer.from("x"), TAGGED)!);
    assert.equal(pong.subject, `${inbox}.0`);
    assert.equal((decodeFrame(pong.data) as { flags: number }).flags, 0, "no tagged answers offered");
    assert.equal(reply.subject, `${inbox}.7`, "answered on the request's reply subject");
    const frame = decodeFrame(reply.data);
    assert.ok(typeof frame !== "string");
    assert.equal(frame.flags, 0);
    assert.equal(text(frame), "echo x");
    // And a client of this build calls it as usual.
    const conn = await transport.dial(listener.address);
    assert.equal(text(await conn.call(msg("y"))), "echo y");
    conn.close();
  });

  it("does not ask a listener that offers no tagged answers (an older one) for them", async () => {
    const raw = await connect({ servers });
    closers.push(() => raw.close());
    const subject = `micro.transport.old${process.pid}`;
    const flags: number[] = [];
    raw.subscribe(subject, {
      callback: (_err, m) => {
        const frame = decodeFrame(m.data);
        if (typeof frame === "string" || !m.reply) return;
        if (frame.type === FrameType.Ping) {
          m.respond(encodeFrame(FrameType.Pong, "", new Uint8Array(0)));
          return;
        }
        flags.push(frame.flags);
        m.respond(encodeFrame(FrameType.Response, "", Buffer.from(`old ${text(frame)}`)));
      },
    });
    raw.subscribe(`${subject}.c.>`, { callback: () => {} }); // the client's liveness pings
    await raw.flush();
    const transport = new NatsTransport({ servers, logger: quiet });
    const conn = await transport.dial(subject);
    assert.equal(text(await conn.call(msg("a"))), "old a");
    assert.deepEqual(flags, [0]);
    conn.close();
  });

  it("is what resolveTransport gives for nats and nats://host:port", () => {
    assert.ok(resolveTransport("nats") instanceof NatsTransport);
    const t = resolveTransport("nats://127.0.0.1:4222") as NatsTransport;
    assert.deepEqual(t.servers, ["nats://127.0.0.1:4222"]);
    const saved = process.env.MICRO_TRANSPORT_ADDRESS;
    process.env.MICRO_TRANSPORT_ADDRESS = "10.0.0.1:4222,10.0.0.2:4222";
    try {
      assert.deepEqual((resolveTransport("nats") as NatsTransport).servers, ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"]);
    } finally {
      if (saved === undefined) delete process.env.MICRO_TRANSPORT_ADDRESS;
      else process.env.MICRO_TRANSPORT_ADDRESS = saved;
    }
    assert.throws(() => resolveTransport("carrier-pigeon"), /available are mux, http, memory, nats/);
  });
});

describe("nats transport frames", () => {
  it("carries a tagged answer's call id after the prefix, and refuses one cut short", () => {
    const frame = encodeFrameFrom(FrameType.Response, { "X-A": "b" }, Buffer.from("body"), 0, 0xfffffffe);
    assert.ok(frame);
    const decoded = decodeFrame(frame);
    assert.ok(typeof decoded !== "string");
    assert.equal(decoded.stream, 0xfffffffe);
    assert.equal(decoded.flags, TAGGED);
    assert.equal(decoded.header["X-A"], "b");
    assert.equal(text(decoded), "body");
    assert.equal(typeof decodeFrame(frame.subarray(0, 8)), "string");
    // TAGGED on a request asks for a tagged answer; the id is in the reply subject, not the frame.
    const request = decodeFrame(encodeFrameFrom(FrameType.Request, {}, Buffer.from("x"), TAGGED)!);
    assert.ok(typeof request !== "string");
    assert.equal(text(request), "x");
  });

  it("refuses a header block over the limit without sizing its buffers for it, and still encodes the next frame", () => {
    const huge = { "X-Big": "x".repeat(DEFAULT_MAX_HEADER_BYTES + 1) };
    assert.equal(encodeFrameFrom(FrameType.Request, huge, new Uint8Array(0)), undefined);
    const frame = encodeFrameFrom(FrameType.Request, { "X-Small": "y" }, Buffer.from("body"));
    assert.ok(frame, "a small header still encodes");
    const decoded = decodeFrame(frame);
    assert.notEqual(typeof decoded, "string");
    assert.equal((decoded as { header: Record<string, string> }).header["X-Small"], "y");
  });
});
