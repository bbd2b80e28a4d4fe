/**
 * What a remote can make a NATS transport listener hold or run, against the shared NATS server,
 * with small limits: header count and size, message size, calls in flight per client, header
 * injection through NUL, and hand-made bad messages. Each is answered with a clear error (or
 * dropped when it cannot be answered), logged, and the listener keeps serving.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { MicroError } from "../../src/errors/errors.js";
import { MicroHeader } from "../../src/metadata/headers.js";
import { NatsTransport } from "../../src/transport/nats/nats.js";
import type { ClientConnection, Listener, Message } from "../../src/transport/transport.js";
import { LogRecorder } from "../setup/logger.js";
import { requireSharedNats } from "../setup/servers.js";

const servers = await requireSharedNats();

const text = (m: Message): string => Buffer.from(m.body).toString();
const errorOf = (m: Message): MicroError | undefined => (m.header[MicroHeader.Error] ? MicroError.parse(m.header[MicroHeader.Error]) : undefined);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A frame as wire.ts lays it out: type, flags, u32 header length, header block, body. */
function frame(type: number, flags: number, headerBlock: string, body = "", declaredHeaderLength?: number): Buffer {
  const block = Buffer.from(headerBlock);
  const prefix = Buffer.alloc(6);
  prefix[0] = type;
  prefix[1] = flags;
  prefix.writeUInt32BE(declaredHeaderLength ?? block.length, 2);
  return Buffer.concat([prefix, block, Buffer.from(body)]);
}
const REQUEST = 1;
const RESPONSE = 2;

describe("nats transport limits", () => {
  const log = new LogRecorder();
  const transport = new NatsTransport({
    servers,
    logger: log,
    logInterval: 0,
    maxHeaders: 16,
    maxHeaderBytes: 1024,
    maxMessageSize: 4096,
    maxCallsPerClient: 4,
  });
  let release: () => void = () => {};
  let gate = Promise.resolve();
  let running = 0;
  let listener: Listener;
  let conn: ClientConnection;
  let raw: NatsConnection;

  before(async () => {
    listener = await transport.listen("", {
      handler: async (req) => {
        running++;
        try {
          if (text(req) === "wait") await gate;
          return { header: { "X-Endpoint-Seen": req.header[MicroHeader.Endpoint] ?? "" }, body: req.body };
        } finally {
          running--;
        }
      },
    });
    conn = await transport.dial(listener.address);
    raw = await connect({ servers });
  });
  after(async () => {
    conn.close();
    listener.destroy();
    await raw.close();
  });

  async function stillServes(): Promise<void> {
    const reply = await conn.call({ header: { [MicroHeader.Endpoint]: "Echo.Call" }, body: Buffer.from("ok") }, { deadline: Date.now() + 5_000 });
    assert.equal(errorOf(reply), undefined);
    assert.equal(text(reply), "ok");
  }

  const refused: Array<[string, () => Message, number, RegExp]> = [
    [
      "more headers than maxHeaders",
      () => ({ header: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`X-H${i}`, "v"])), body: Buffer.from("x") }),
      400,
      /more than 16 headers/,
    ],
    ["a header block over maxHeaderBytes", () => ({ header: { "X-Big": "y".repeat(2000) }, body: Buffer.from("x") }), 400, /header block of \d+ bytes exceeds/],
    ["a message over maxMessageSize", () => ({ header: {}, body: Buffer.alloc(8192) }), 413, /exceeds the limit of 4096/],
  ];
  for (const [what, request, code, detail] of refused) {
    it(`answers ${what} with ${code}, logs it, and keeps serving`, async () => {
      const before = log.lines.length;
      const reply = await conn.call(request(), { deadline: Date.now() + 5_000 });
      const err = errorOf(reply);
      assert.equal(err?.code, code, JSON.stringify(reply.header));
      assert.match(err!.detail, detail);
      assert.ok(
        log.lines.slice(before).some((line) => line.msg.includes("dropped a bad message")),
        "logged",
      );
      await stillServes();
    });
  }

  it("applies maxMessageSize to each call of a batch, not to the batch", async () => {
    // Three calls of 1.5 KiB made in one turn travel as one batch of about 4.6 KiB.
    const bodies = ["a", "b", "c"].map((fill) => Buffer.alloc(1536, fill));
    const replies = await Promise.all(bodies.map((body) => conn.call({ header: {}, body }, { deadline: Date.now() + 5_000 })));
    assert.deepEqual(
      replies.map((reply) => errorOf(reply)?.code ?? text(reply).length),
      [1536, 1536, 1536],
    );
  });

  it("refuses calls past maxCallsPerClient with 429 while the first ones run, then serves again", async () => {
    gate = new Promise<void>((resolve) => (release = resolve));
    const calls = Array.from({ length: 10 }, () => conn.call({ header: {}, body: Buffer.from("wait") }, { deadline: Date.now() + 5_000 }));
    for (let i = 0; i < 200 && running < 4; i++) await sleep(10);
    await sleep(100); // the rest arrive and are refused
    assert.equal(running, 4, "no more than the limit run");
    release();
    const replies = await Promise.all(calls);
    const codes = replies.map((reply) => errorOf(reply)?.code ?? 200).sort();
    assert.deepEqual(codes, [200, 200, 200, 200, 429, 429, 429, 429, 429, 429]);
    assert.ok(
      log.lines.some((line) => line.msg.includes("too many calls in flight")),
      "the limit hit is logged",
    );
    await stillServes();
  });

  it("refuses to send a header that holds NUL, CR or LF (header injection)", async () => {
    for (const value of ["hi\0Micro-Endpoint\0Other.Method", "a\r\nb"]) {
      await assert.rejects(conn.call({ header: { [MicroHeader.Endpoint]: "Echo.Call", "X-Meta": value }, body: Buffer.from("x") }), /cannot be sent over NATS/);
    }
    await stillServes();
  });

  it("answers hand-made bad requests with 400, drops what cannot be answered, and keeps serving", async () => {
    const inbox = `_INBOX.limits${Date.now()}`;
    const answers = new Map<string, MicroError | undefined>();
    const sub = raw.subscribe(`${inbox}.*`, {
      callback: (_err, msg) => {
        const data = Buffer.from(msg.data);
        const headerLength = data.readUInt32BE(2);
        const header = data
          .subarray(6, 6 + headerLength)
          .toString()
          .split("\0");
        const at = header.indexOf(MicroHeader.Error);
        answers.set(msg.subject.slice(inbox.length + 1), data[0] === RESPONSE && at !== -1 ? MicroError.parse(header[at + 1]) : undefined);
      },
    });
    const before = log.lines.length;
    // A NUL-injected value: Micro-Endpoint twice, the second overriding the first.
    raw.publish(listener.address, frame(REQUEST, 0, "Micro-Endpoint\0Echo.Call\0X-Meta\0hi\0Micro-Endpoint\0Other.Method", "x"), { reply: `${inbox}.1` });
    raw.publish(listener.address, frame(REQUEST, 0x80, "", "x"), { reply: `${inbox}.2` }); // unknown flag
    raw.publish(listener.address, frame(REQUEST, 0, "X\0v", "x", 1 << 30), { reply: `${inbox}.3` }); // declares a 1 GiB header block
    raw.publish(listener.address, frame(REQUEST, 0, "Lonely-Name", "x"), { reply: `${inbox}.4` }); // a name without a value
    raw.publish(listener.address, frame(REQUEST, 0, "X\0a\rb", "x"), { reply: `${inbox}.5` });
    raw.publish(listener.address, frame(REQUEST, 0, "", "x"), { reply: `${inbox}.0` }); // call id 0 (a ping's)
    raw.publish(listener.address, frame(REQUEST, 0, "", "x"), { reply: `${inbox}.9999999999` }); // a call id over 2^32 - 1
    raw.publish(listener.address, frame(REQUEST, 0, "", "x"), { reply: "*" }); // a reply subject that is no call's
    raw.publish(listener.address, frame(REQUEST, 0, "", "x"), { reply: `${inbox}.notanid` });
    raw.publish(`${listener.address}.c.${inbox}.x`, frame(3, 0, "")); // a control subject that names no call
    await raw.flush();
    for (let i = 0; i < 200 && answers.size < 7; i++) await sleep(10);
    sub.unsubscribe();
    for (const id of ["1", "2", "3", "4", "5", "0", "9999999999"]) assert.equal(answers.get(id)?.code, 400, `request ${id}: ${answers.get(id)?.detail}`);
    assert.match(answers.get("1")!.detail, /appears twice/);
    assert.match(answers.get("0")!.detail, /call id from 1 to 2\^32 - 1/);
    const dropped = log.lines.slice(before).filter((line) => line.msg.includes("dropped a bad message"));
    assert.equal(dropped.length, 10, dropped.map((line) => JSON.stringify(line.fields)).join("\n"));
    await stillServes();
  });
});
