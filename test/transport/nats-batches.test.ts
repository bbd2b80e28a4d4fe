/**
 * Batches on the NATS transport (see src/transport/nats/wire.ts): the unary calls of one turn go
 * to the listener as one message and come back as one, against the shared NATS server, with a raw
 * nats.js connection watching the subjects or sending what a broken peer would.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { MicroError } from "../../src/errors/errors.js";
import { MicroHeader } from "../../src/metadata/headers.js";
import { NatsTransport } from "../../src/transport/nats/nats.js";
import {
  BATCH,
  BATCH_OVERHEAD,
  BatchQueue,
  decodeFrame,
  encodeFrame,
  encodeFrameFrom,
  type Frame,
  FrameBatch,
  FrameFlag,
  FrameType,
  forEachInBatch,
  isBatch,
  MAX_BATCH_ENTRIES,
} from "../../src/transport/nats/wire.js";
import { type ClientConnection, type Listener, type Message, NotDeliveredError, type TransportStream } from "../../src/transport/transport.js";
import { quiet, recordingLogger } from "../setup/logger.js";
import { requireSharedNats } from "../setup/servers.js";
import { until } from "../setup/wait.js";

const servers = await requireSharedNats();

const msg = (body: string | Buffer): Message => ({ header: {}, body: Buffer.from(body) });
const text = (m: Message): string => Buffer.from(m.body).toString();
const echo = async (req: Message): Promise<Message> => msg(`echo ${text(req)}`);

/** The entries of a batch message: call id and decoded frame. */
function entries(data: Uint8Array): Array<{ id: number; frame: Frame }> {
  const out: Array<{ id: number; frame: Frame }> = [];
  const bad = forEachInBatch(data, (id, bytes) => {
    const frame = decodeFrame(bytes);
    assert.ok(typeof frame !== "string", String(frame));
    out.push({ id, frame });
  });
  assert.equal(bad, undefined);
  return out;
}

/** Every message published to `subject`, as it arrives. */
function watch(raw: NatsConnection, subject: string): Uint8Array[] {
  const seen: Uint8Array[] = [];
  raw.subscribe(subject, { callback: (_err, m) => void seen.push(m.data) });
  return seen;
}

/** A batch message of the given (call id, frame) entries. */
function batchOf(...items: Array<[number, Buffer]>): Buffer {
  const batch = new FrameBatch();
  for (const [id, frame] of items) batch.add(id, frame);
  return batch.encode();
}

const request = (body: string, flags = 0): Buffer => encodeFrameFrom(FrameType.Request, {}, Buffer.from(body), flags)!;

describe("nats transport batches", () => {
  const closers: Array<() => unknown> = [];
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  /** A listener (echo, unless given), a client connection to it, a raw connection, and the client's inbox. */
  async function setUp(options: { taggedAnswers?: boolean; handler?: (req: Message) => Promise<Message>; logger?: typeof quiet } = {}) {
    const transport = new NatsTransport({ servers, logger: options.logger ?? quiet, logInterval: 0, taggedAnswers: options.taggedAnswers });
    let inbox = "";
    const handler = options.handler ?? echo;
    const listener: Listener = await transport.listen("", {
      handler: (req, call) => {
        inbox = call.remote;
        return handler(req);
      },
    });
    closers.push(() => listener.destroy());
    const conn: ClientConnection = await transport.dial(listener.address);
    closers.push(() => conn.close());
    const raw = await connect({ servers });
    closers.push(() => raw.close());
    assert.equal(text(await conn.call(msg("first"))), "echo first");
    assert.match(inbox, /^_INBOX\./);
    return { transport, listener, conn, raw, inbox };
  }

  it("sends the calls of one turn as one message, and gets their answers back in one", async () => {
    const { listener, conn, raw, inbox } = await setUp();
    const requests = watch(raw, listener.address);
    const answers = watch(raw, inbox);
    await raw.flush();
    const calls = Array.from({ length: 50 }, (_, i) => conn.call(msg(`n${i}`)));
    const results = await Promise.all(calls);
    assert.deepEqual(
      results.map(text),
      calls.map((_, i) => `echo n${i}`),
    );
    await until(() => answers.length > 0 && requests.length > 0, 5_000, "the watcher to see the batches");
    assert.equal(requests.length, 1, "one message carried all 50 calls");
    assert.ok(isBatch(requests[0]));
    assert.deepEqual(
      entries(requests[0]).map((e) => text(e.frame)),
      calls.map((_, i) => `n${i}`),
    );
    assert.ok(answers.every(isBatch), "answers come in batches");
    assert.ok(answers.length < 50, `${answers.length} answer messages for 50 calls`);
    const answered = answers.flatMap((a) => entries(a));
    assert.equal(answered.length, 50);
    assert.ok(answered.every((e) => e.frame.type === FrameType.Response));
  });

  it("sends a batch once it reaches 8 KiB, and a large call in a batch of its own", async () => {
    const { listener, conn, raw } = await setUp();
    const requests = watch(raw, listener.address);
    await raw.flush();
    const bodies = Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(1024, "x"));
    const big = "B".repeat(100 * 1024);
    const results = await Promise.all([...bodies, big].map((body) => conn.call(msg(body))));
    assert.deepEqual(
      results.map(text),
      [...bodies, big].map((body) => `echo ${body}`),
    );
    await until(() => requests.reduce((n, r) => n + entries(r).length, 0) === 21, 5_000, "all 21 calls seen");
    assert.ok(requests.length >= 3, `20 KiB of calls in ${requests.length} messages`);
    for (const data of requests) {
      const inIt = entries(data);
      if (inIt.some((e) => e.frame.body.length === big.length)) assert.equal(inIt.length, 1, "the large call went alone");
      else assert.ok(data.length <= 8 * 1024, `a batch of ${data.length} bytes`);
    }
  });

  it("serves the good calls of a bad batch, answers each bad one on its own subject, and keeps serving", async () => {
    const warnings: string[] = [];
    const { listener, conn, raw, inbox } = await setUp({ logger: recordingLogger(warnings) });
    const rawInbox = `_INBOX.batch${process.pid}`;
    const tagged = watch(raw, rawInbox);
    const single = new Map<string, Uint8Array>();
    raw.subscribe(`${rawInbox}.*`, { callback: (_err, m) => void single.set(m.subject.slice(rawInbox.length + 1), m.data) });
    await raw.flush();
    const good = batchOf(
      [1, request("a")],
      [2, Buffer.from("garbage")],
      [3, encodeFrame(FrameType.Response, "", Buffer.from("not a request"))],
      [4, request("a stream", FrameFlag.Stream)],
      [5, request("b")],
    );
    // An entry that says it is longer than what is left: served up to it, the rest dropped.
    const cut = Buffer.concat([good, Buffer.from([0, 0, 0, 6, 0, 0, 0, 100, 1, 2, 3])]);
    raw.publish(listener.address, cut, { reply: `${rawInbox}.1` });
    await until(
      () => single.size === 3 && tagged.length > 0,
      5_000,
      () => `answers: ${[...single.keys()]}, batches ${tagged.length}`,
    );
    assert.deepEqual(
      tagged.flatMap((a) => entries(a)).map((e) => [e.id, text(e.frame)]),
      [
        [1, "echo a"],
        [5, "echo b"],
      ],
    );
    for (const id of ["2", "3", "4"]) {
      const answer = decodeFrame(single.get(id)!);
      assert.ok(typeof answer !== "string");
      assert.equal(MicroError.parse(answer.header[MicroHeader.Error]).code, 400, `call ${id}`);
    }
    assert.ok(!single.has("6"), "the cut entry is not answered");
    await until(() => warnings.some((w) => w.includes("the rest of a batch")), 5_000, "the cut batch logged");
    // No reply subject, and a call id of 0: dropped and logged.
    raw.publish(listener.address, batchOf([1, request("x")]));
    raw.publish(listener.address, batchOf([0, request("x")]), { reply: `${rawInbox}.9` });
    await raw.flush();
    await until(() => warnings.some((w) => w.includes("call id 0")), 5_000, "the id-0 batch logged");
    // Broken at its first entry: its sender is told, on the batch's reply subject.
    await until(() => single.has("9"), 5_000, "the id-0 batch answered");
    assert.equal(MicroError.parse((decodeFrame(single.get("9")!) as Frame).header[MicroHeader.Error]).code, 400);
    assert.ok(warnings.some((w) => w.includes("a batch without a reply subject")));
    assert.equal(text(await conn.call(msg("still here"))), "echo still here");
    assert.match(inbox, /^_INBOX\./);
  });

  it("takes at most MAX_BATCH_ENTRIES calls from one batch, and logs the rest as dropped", async () => {
    const warnings: string[] = [];
    const { listener, raw } = await setUp({ logger: recordingLogger(warnings) });
    const rawInbox = `_INBOX.longbatch${process.pid}`;
    let answered = 0;
    raw.subscribe(`${rawInbox}.*`, { callback: () => void answered++ });
    await raw.flush();
    // 1-byte frames: each is refused with a 400 of its own, so every call taken is answered.
    const items = Array.from({ length: MAX_BATCH_ENTRIES + 100 }, (_, i): [number, Buffer] => [i + 1, Buffer.from([1])]);
    raw.publish(listener.address, batchOf(...items), { reply: `${rawInbox}.1` });
    await until(() => warnings.some((w) => w.includes(`more than ${MAX_BATCH_ENTRIES} calls`)), 5_000, "the long batch logged");
    await until(
      () => answered >= MAX_BATCH_ENTRIES,
      5_000,
      () => `${answered} answers`,
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(answered, MAX_BATCH_ENTRIES);
  });

  it("sends a call that fits max_payload only without a batch's 10 bytes on its own", async () => {
    // The answer is the request's size: echoed, it would be too large to send back.
    const { conn } = await setUp({ handler: async (req) => (req.body.length > 100 ? msg(`${req.body.length}`) : echo(req)) });
    const maxPayload = (conn as unknown as { link: { maxPayload: number } }).link.maxPayload;
    // The frame's 6-byte prefix and an empty header block: 3 bytes under max_payload.
    const body = Buffer.alloc(maxPayload - 6 - 3, 1);
    assert.equal(text(await conn.call({ header: {}, body })), String(body.length));
  });

  it("fails a call still waiting for its batch with NotDeliveredError when the connection drops", async () => {
    const { conn } = await setUp();
    const call = conn.call(msg("never sent"));
    (conn as unknown as { connectionLost(reason: string): void }).connectionLost("dropped for the test");
    await assert.rejects(call, (err: unknown) => err instanceof NotDeliveredError && /before the call was sent/.test(err.message));
  });

  it("a stream's 'no responders' fails that stream only, not the calls made after it", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const transport = new NatsTransport({ servers, logger: quiet });
    let inbox = "";
    const listener = await transport.listen("", {
      handler: async (req, call) => {
        inbox = call.remote;
        if (text(req) === "slow") await gate;
        return echo(req);
      },
      streamHandler: () => {},
    });
    closers.push(() => listener.destroy());
    const conn = await transport.dial(listener.address);
    closers.push(() => conn.close());
    const raw = await connect({ servers });
    closers.push(() => raw.close());
    const stream: TransportStream = conn.stream(msg("")); // call id 1
    const slow = conn.call(msg("slow")); // call id 2, delivered and running
    await until(() => inbox !== "", 5_000, "the slow call to arrive");
    // What NATS sends when a frame of stream 1 finds nobody (its control subject went away).
    raw.publish(`${inbox}.1`, new Uint8Array(0), { headers: headers(503, "No Responders") });
    await assert.rejects(stream.recv(), (err: unknown) => err instanceof MicroError && err.code === 503);
    release();
    assert.equal(text(await slow), "echo slow");
  });

  it("with taggedAnswers off, answers each call of a batch on its own reply subject", async () => {
    const { listener, raw } = await setUp({ taggedAnswers: false });
    const rawInbox = `_INBOX.untaggedbatch${process.pid}`;
    const tagged = watch(raw, rawInbox);
    const single = new Map<string, Uint8Array>();
    raw.subscribe(`${rawInbox}.*`, { callback: (_err, m) => void single.set(m.subject.slice(rawInbox.length + 1), m.data) });
    await raw.flush();
    raw.publish(listener.address, batchOf([7, request("p")], [8, request("q")]), { reply: `${rawInbox}.7` });
    await until(() => single.size === 2, 5_000, "both answers");
    assert.deepEqual(
      ["7", "8"].map((id) => text(decodeFrame(single.get(id)!) as Frame)),
      ["echo p", "echo q"],
    );
    assert.equal(tagged.length, 0, "nothing on the inbox itself");
  });

  it("fails every call of a batch that found no listener with NotDeliveredError", async () => {
    const { listener, conn } = await setUp();
    await listener.close();
    const calls = Array.from({ length: 10 }, (_, i) => conn.call(msg(`late ${i}`), { deadline: Date.now() + 10_000 }));
    for (const call of calls) await assert.rejects(call, (err: unknown) => err instanceof NotDeliveredError);
    assert.equal(conn.closed, true);
  });

  it("sends a call's batch before its cancel, so the server sees the call cancelled", async () => {
    let serverSignal: AbortSignal | undefined;
    const transport = new NatsTransport({ servers, logger: quiet });
    const listener = await transport.listen("", {
      handler: (_req, call) => {
        serverSignal = call.signal;
        return new Promise(() => {});
      },
    });
    closers.push(() => listener.destroy());
    const conn = await transport.dial(listener.address);
    closers.push(() => conn.close());
    const abort = new AbortController();
    const call = conn.call(msg("cancel me"), { signal: abort.signal });
    abort.abort(); // in the same turn: the call is still waiting for its batch
    await assert.rejects(call, (err: unknown) => err instanceof MicroError && err.code === 499);
    await until(() => serverSignal?.aborted === true, 5_000, "the server's call cancelled");
  });

  it("drops a broken answer batch on the client's inbox, and its calls go on", async () => {
    const warnings: string[] = [];
    const { conn, raw, inbox } = await setUp({ logger: recordingLogger(warnings) });
    // An answer for a call never made (dropped quietly), then an entry cut short.
    const forged = batchOf([424242, encodeFrame(FrameType.Response, "", Buffer.from("forged"))]);
    raw.publish(inbox, Buffer.concat([forged, Buffer.from([0, 0, 0, 1, 0, 0])]));
    raw.publish(inbox, batchOf([3, Buffer.from("garbage")]));
    await raw.flush();
    await until(
      () => warnings.length >= 2,
      5_000,
      () => `warnings: ${warnings.join("; ")}`,
    );
    assert.ok(warnings.some((w) => w.includes("dropped the rest of a bad batch")));
    assert.ok(warnings.some((w) => w.includes("dropped a bad message in a batch")));
    assert.equal(text(await conn.call(msg("next"))), "echo next");
  });
});

describe("nats transport batch format", () => {
  it("carries each frame with its call id, and says where a broken batch breaks", () => {
    const a = request("a");
    const b = encodeFrame(FrameType.Response, "", Buffer.from("bb"));
    const data = batchOf([1, a], [0xfffffffe, b]);
    assert.equal(data.length, a.length + b.length + 2 * BATCH_OVERHEAD - 2);
    assert.deepEqual(
      entries(data).map((e) => [e.id, e.frame.type, text(e.frame)]),
      [
        [1, FrameType.Request, "a"],
        [0xfffffffe, FrameType.Response, "bb"],
      ],
    );
    const seen: number[] = [];
    assert.match(forEachInBatch(data.subarray(0, data.length - 1), (id) => seen.push(id)) ?? "", /overruns/);
    assert.deepEqual(seen, [1], "the entries before the fault are handed over");
    assert.match(forEachInBatch(Buffer.concat([data, Buffer.from([0, 0, 0])]), () => {}) ?? "", /cut short/);
    assert.match(forEachInBatch(batchOf([0, a]), () => {}) ?? "", /call id 0/);
    assert.match(forEachInBatch(a, () => {}) ?? "", /not a batch/);
    assert.match(forEachInBatch(Buffer.from([BATCH, 1]), () => {}) ?? "", /unknown batch flags/);
    assert.equal(isBatch(a), false);
    assert.equal(typeof decodeFrame(data), "string", "a batch is not a frame, so a listener without batches refuses it");
  });

  it("sends each turn's frames once from a batch it reuses, and forgets a subject with nothing in a turn", async () => {
    const sent: Array<{ subject: string; ids: number[]; data: Buffer }> = [];
    const queue = new BatchQueue(1 << 20, (subject, batch) => sent.push({ subject, ids: batch.ids(), data: batch.encode() }));
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    const sentAs = (i: number): Array<[number, string]> => entries(sent[i].data).map((e) => [e.id, text(e.frame)]);

    queue.add("a", 1, request("one"));
    queue.add("b", 2, request("two"));
    queue.add("a", 3, request("three"));
    await turn();
    assert.deepEqual(
      sent.map((s) => [s.subject, s.ids]),
      [
        ["a", [1, 3]],
        ["b", [2]],
      ],
    );
    assert.equal(queue.subjects, 2);

    queue.add("a", 4, request("four"));
    await turn();
    assert.equal(sent.length, 3, "b had nothing this turn: nothing sent for it");
    assert.deepEqual(sentAs(2), [[4, "four"]], "the reused batch holds this turn's frame only");
    assert.deepEqual(sent[0].ids, [1, 3], "ids handed out before are not changed by the reuse");
    assert.deepEqual(sentAs(0), [
      [1, "one"],
      [3, "three"],
    ]);
    assert.equal(queue.subjects, 1, "b, quiet for a turn, is forgotten");
    assert.deepEqual(queue.drop(), []);
  });
});
