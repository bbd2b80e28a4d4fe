/**
 * The NATS transport's wire format and subjects. Every NATS message the transport sends is one
 * frame, or a batch of frames (below):
 *
 *   u8  type       a FrameType (Request, Response, Cancel, Refused, Ping, Pong, Data, End, Window)
 *   u8  flags      FrameFlag bits (Request: STREAM opens a stream rather than a unary call), and TAGGED
 *   u32 headerLen  bytes of the header block
 *   [u32 call id]  only in a Response with TAGGED
 *   header block   UTF-8 "key\0value\0key\0value", as every framed transport (see framing/header-block.ts)
 *   body           the rest
 *
 * There is no length: NATS delimits messages, and the subject says which call a frame belongs to
 * (but for tagged answers, below). Subjects, for a listener at subject `L` and a client connection
 * whose inbox is `I` (it subscribes to `I` and `I.*`):
 *
 *   L           requests and stream opens, reply `I.<id>`; dial pings, reply `I.0`
 *   I           server → client: tagged answers to unary calls (TAGGED, the call id in the frame),
 *               and answer batches
 *   I.<id>      server → client: the other answers to a call, and the server's frames of stream <id>
 *   L.c.I.<id>  client → server: cancel, and the client's frames of stream <id>
 *
 * Tagged answers: a listener that can send them sets TAGGED on its Pong to the dial's ping; a
 * client that saw it sets TAGGED on its unary requests, and the listener answers those on `I`,
 * one subject per client, rather than on `I.<id>`, a new subject per call. NATS caches where a
 * subject goes; a subject per call misses that cache on every answer and costs the NATS server
 * a wildcard match (and a cache insert) each time. The request keeps `I.<id>` as its reply, so
 * when nothing listens at `L` the "no responders" status still names the call. Clients and
 * listeners without TAGGED (older builds) get and send what they did before.
 *
 * Batches: unary calls made in one turn of the event loop go to the listener as one NATS message,
 * and their answers come back to each client's inbox as one message too, rather than a message per
 * call: the NATS server's work (and each side's parsing) is per message, so under load this is
 * most of what a call costs it. A batch message is
 *
 *   u8  BATCH      a type of this transport only, outside FrameType
 *   u8  flags      0 (a flag added later must be offered on the Pong first)
 *   then entries:  u32 call id, u32 frame length, a frame of that length (no call id in it)
 *
 * A request batch goes to `L` with reply `I.<first call id>`: "no responders" names its first
 * call, and the client fails every call of that batch (one message: none of them arrived). Its
 * entries are unary Requests (TAGGED or not: it is implied), at most MAX_BATCH_ENTRIES. Each is
 * answered in an answer batch to `I` (entries are Responses), or on `I.<id>` as usual when it is
 * refused, or when its answer cannot go in a batch (too large, or headers that cannot be sent).
 * A batch broken at its first entry is answered with a 400 on its reply subject; one broken
 * later is served up to the fault. A batch leaves once the turn's microtasks have run, or sooner
 * when it reaches BATCH_BYTES; answers that are ready after that go in the next one. A listener
 * that takes batches sets BATCHES on its Pong, as it does TAGGED (it needs tagged answers: both
 * publish to the client's inbox); a client sends batches only to a listener that offered them.
 * A batch of one is still a batch (10 bytes more), so each side has one way to send; a call that
 * fits max_payload only without those 10 bytes goes on its own, as to an older listener. Stream
 * opens and frames are never batched, so they can overtake unary calls of the same turn.
 *
 * Stream frames in either direction carry the sender's own subject for that stream as their
 * reply, so when the receiver is gone NATS answers the sender there with a "no responders" status
 * (an empty message with header code 503): that is how each side learns the other died.
 */
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../../logger/logger.js";
import { type Frame, FrameType, LAST_FRAME_TYPE, readU32, writeU32 } from "../framing/frame.js";
import { DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_HEADER_COUNT, decodeHeader, headerBound, UNSENDABLE, writeHeader } from "../framing/header-block.js";
import type { HeaderMemo } from "../framing/header-memo.js";
import type { Header } from "../transport.js";

export { type Frame, FrameFlag, FrameType } from "../framing/frame.js";

/** type + flags + headerLen. */
const PREFIX = 6;
/** The call id of a tagged answer, after the prefix. */
const CALL_ID_BYTES = 4;

/**
 * A FrameFlag bit of this transport only: on a Pong, the listener sends tagged answers; on a
 * unary Request, answer it tagged; on a Response, the call id follows the prefix (see above).
 */
export const TAGGED = 2;

/** A flag of the Pong only: the listener takes batches of calls (see above). */
export const BATCHES = 4;

/** The first byte of a batch message (see above): not a FrameType, so older peers refuse it as one. */
export const BATCH = 0x40;
/** type + flags of a batch message. */
const BATCH_PREFIX = 2;
/** call id + frame length, before each frame of a batch. */
const ENTRY_PREFIX = 8;
/**
 * The most calls one batch may carry: a client's batch of BATCH_BYTES holds a few hundred small
 * calls; a listener refuses the rest of a longer one, so that one message cannot make it answer
 * (or refuse) without end.
 */
export const MAX_BATCH_ENTRIES = 1024;
/** What a batch of one adds to its frame. */
export const BATCH_OVERHEAD = BATCH_PREFIX + ENTRY_PREFIX;
/**
 * A batch is sent once it would grow past this, without waiting for the turn's end: under load a
 * turn makes hundreds of calls, and one message of all of them would leave the NATS server and
 * the other side idle until the last is made. 8 KiB is also how much our connection lets nats.js
 * gather before it writes (see nats.ts), so each full batch is written as it is made.
 */
const BATCH_BYTES = 8 * 1024;

/** The largest header block plus body that fits a NATS message of `maxPayload` bytes. */
export function maxMessageSize(maxPayload: number): number {
  return maxPayload - PREFIX;
}

export function encodeFrame(type: FrameType, headerText: string, body: Uint8Array, flags = 0): Buffer {
  const headerLen = headerText.length === 0 ? 0 : Buffer.byteLength(headerText);
  // A fresh buffer per frame: nats.js queues the buffer itself until its next socket write.
  const buf = Buffer.allocUnsafe(PREFIX + headerLen + body.length);
  buf[0] = type;
  buf[1] = flags;
  writeU32(buf, 2, headerLen);
  if (headerLen > 0) buf.write(headerText, PREFIX, headerLen, "utf8");
  if (body.length > 0) buf.set(body, PREFIX + headerLen);
  return buf;
}

/** Where frames are written from header objects before they are copied out at their exact size. */
let scratch = Buffer.allocUnsafe(16 * 1024);

/**
 * Like encodeFrame, but writes the header block straight from the header object (see
 * writeHeader): no header text is built, measured and copied per call, and the NUL/CR/LF check is
 * made as the bytes are written. With a `tag`, a tagged answer to call `tag` (TAGGED set, the id
 * after the prefix). Undefined when the header cannot be sent (an empty name, NUL, CR or LF, more
 * than the default count or bytes of headers; headerProblem says which).
 */
export function encodeFrameFrom(type: FrameType, header: Header, body: Uint8Array, flags = 0, tag?: number): Buffer | undefined {
  const start = tag === undefined ? PREFIX : PREFIX + CALL_ID_BYTES;
  const unitsBound = headerBound(header);
  // Every UTF-16 unit takes at least a byte: a header of more units than the limit is refused
  // before the scratch buffer grows for it (it would stay that size for the process's life).
  if (unitsBound / 3 > DEFAULT_MAX_HEADER_BYTES) return undefined;
  const bound = start + unitsBound;
  if (scratch.length < bound) scratch = Buffer.allocUnsafe(Math.max(bound, scratch.length * 2));
  const headerEnd = writeHeader(scratch, start, header, DEFAULT_MAX_HEADER_COUNT);
  if (headerEnd === UNSENDABLE || headerEnd - start > DEFAULT_MAX_HEADER_BYTES) return undefined;
  // A fresh buffer per frame, as encodeFrame: nats.js queues it until its next socket write.
  const buf = Buffer.allocUnsafe(headerEnd + body.length);
  scratch.copy(buf, start, start, headerEnd);
  buf[0] = type;
  buf[1] = tag === undefined ? flags : flags | TAGGED;
  writeU32(buf, 2, headerEnd - start);
  if (tag !== undefined) writeU32(buf, PREFIX, tag);
  if (body.length > 0) buf.set(body, headerEnd);
  return buf;
}

/**
 * Parses one NATS message payload; a string says why it is not a frame. The header block is
 * checked as it is decoded (see decodeHeader): at most `maxHeaders` names, each once, no empty
 * name, no CR or LF, every name with a value. With a `memo`, the headers a block repeats of the
 * ones before it are not decoded again (see HeaderMemo).
 */
export function decodeFrame(data: Uint8Array, maxHeaders = DEFAULT_MAX_HEADER_COUNT, memo?: HeaderMemo): Frame | string {
  if (data.length < PREFIX) return `${data.length} bytes is shorter than a frame header`;
  // nats.js hands over Buffers (views of the socket's chunk): wrapping one again costs an object per message.
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const type = buf[0] as FrameType;
  if (type < FrameType.Request || type > LAST_FRAME_TYPE) return `unknown frame type ${type}`;
  const flags = buf[1];
  const tagged = type === FrameType.Response && (flags & TAGGED) !== 0;
  const start = tagged ? PREFIX + CALL_ID_BYTES : PREFIX;
  if (start > buf.length) return `${buf.length} bytes is shorter than a tagged frame header`;
  const headerLen = readU32(buf, 2);
  if (start + headerLen > buf.length) return `header block of ${headerLen} bytes overruns a ${buf.length}-byte message`;
  const end = start + headerLen;
  const header = memo ? memo.decode(buf, start, end, maxHeaders) : decodeHeader(buf, start, end, maxHeaders);
  if (typeof header === "string") return header;
  return {
    type,
    flags,
    // A tagged answer's call id; otherwise the subject says which call.
    stream: tagged ? readU32(buf, PREFIX) : 0,
    header,
    body: buf.subarray(start + headerLen),
  };
}

/** Whether a NATS message payload is a batch rather than a frame. */
export function isBatch(data: Uint8Array): boolean {
  return data.length > 0 && data[0] === BATCH;
}

/**
 * Frames for one subject, kept in call order until they are sent as one batch message. A batch is
 * emptied and filled again rather than made per message: at concurrency 1 every call is a batch
 * of one, and a new object with two new arrays per call was about 400 bytes of garbage, the
 * largest share of what batching allocates per call.
 */
export class FrameBatch {
  // Entries are [0, count): emptying keeps the arrays' backing stores (truncating would drop them).
  private readonly callIds: number[] = [];
  private readonly frames: Array<Buffer | undefined> = [];
  private count = 0;
  private bytes = BATCH_PREFIX;

  /** How many calls the batch holds. */
  get size(): number {
    return this.count;
  }

  /** The first call's id (its reply subject names it); 0 when empty. */
  get firstId(): number {
    return this.count === 0 ? 0 : this.callIds[0];
  }

  /** The ids of the calls, in order, as an array of their own (the batch is reused once sent). */
  ids(): number[] {
    return this.callIds.slice(0, this.count);
  }

  /** Whether `frame` can join without the batch outgrowing `maxBytes` or MAX_BATCH_ENTRIES. */
  fits(frame: Uint8Array, maxBytes: number): boolean {
    return this.bytes + ENTRY_PREFIX + frame.length <= maxBytes && this.count < MAX_BATCH_ENTRIES;
  }

  add(id: number, frame: Buffer): void {
    this.callIds[this.count] = id;
    this.frames[this.count] = frame;
    this.count++;
    this.bytes += ENTRY_PREFIX + frame.length;
  }

  /** The batch message. */
  encode(): Buffer {
    const buf = Buffer.allocUnsafe(this.bytes);
    buf[0] = BATCH;
    buf[1] = 0;
    let at = BATCH_PREFIX;
    for (let i = 0; i < this.count; i++) {
      const frame = this.frames[i]!;
      writeU32(buf, at, this.callIds[i]);
      writeU32(buf, at + 4, frame.length);
      buf.set(frame, at + ENTRY_PREFIX);
      at += ENTRY_PREFIX + frame.length;
    }
    return buf;
  }

  /** Empties the batch, letting go of its frames. */
  clear(): void {
    this.frames.fill(undefined, 0, this.count);
    this.count = 0;
    this.bytes = BATCH_PREFIX;
  }
}

/**
 * A microtask for the cost of a promise reaction: Node's queueMicrotask also makes an
 * AsyncResource and a bound function per call, about 150 bytes more. The callback must not
 * throw (a throw would surface as an unhandled rejection rather than an uncaught exception).
 */
const RESOLVED = Promise.resolve();

/**
 * Gathers frames per subject through one turn of the event loop, and gives each subject's batch
 * to `send` when the turn's microtasks run, or at once when a batch is full. Waiting for the
 * microtasks costs no time: nats.js writes what is published from a microtask it queues itself,
 * so within the same turn either way.
 *
 * `send` gets the batch to encode and read the ids of during the call only: the queue empties
 * and reuses it afterwards. A subject stays in the queue while it has something to send in each
 * turn (the steady case: a client's one listener, a listener's busy clients); one with nothing in
 * a turn that sent others is forgotten, so the subjects kept are only those in recent use.
 */
export class BatchQueue {
  private readonly batches = new Map<string, FrameBatch>();
  private scheduled = false;

  /** The most a batch may hold: BATCH_BYTES, or less where the NATS server's max_payload is. */
  private readonly maxBytes: number;

  constructor(
    maxPayload: number,
    private readonly send: (subject: string, batch: FrameBatch) => void,
  ) {
    this.maxBytes = Math.min(maxPayload, BATCH_BYTES);
  }

  /**
   * Queues call `id`'s frame for `subject`; the frame with BATCH_OVERHEAD must fit maxPayload (a
   * frame larger than BATCH_BYTES goes in a batch of its own).
   */
  add(subject: string, id: number, frame: Buffer): void {
    let batch = this.batches.get(subject);
    if (batch === undefined) {
      batch = new FrameBatch();
      this.batches.set(subject, batch);
    } else if (batch.size > 0 && !batch.fits(frame, this.maxBytes)) {
      this.sendBatch(subject, batch);
    }
    batch.add(id, frame);
    if (!this.scheduled) {
      this.scheduled = true;
      RESOLVED.then(this.flush);
    }
  }

  /** How many subjects the queue keeps a batch for (see the class comment). */
  get subjects(): number {
    return this.batches.size;
  }

  /** Forgets every batch not sent yet, and returns their call ids. */
  drop(): number[] {
    const ids = [...this.batches.values()].flatMap((batch) => batch.ids());
    this.batches.clear();
    return ids;
  }

  /** Sends every batch now. */
  readonly flush = (): void => {
    this.scheduled = false;
    for (const [subject, batch] of this.batches) {
      if (batch.size === 0) this.batches.delete(subject);
      else this.sendBatch(subject, batch);
    }
  };

  private sendBatch(subject: string, batch: FrameBatch): void {
    try {
      this.send(subject, batch);
    } finally {
      batch.clear();
    }
  }
}

/**
 * Calls `each` with every entry of a batch message: its call id (1 to 2^32 - 1) and its frame's
 * bytes, unparsed. A string says what is wrong with the batch's layout; the entries before the
 * fault have been handed over, the rest are lost.
 */
export function forEachInBatch(data: Uint8Array, each: (id: number, frame: Buffer) => void): string | undefined {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < BATCH_PREFIX || buf[0] !== BATCH) return "not a batch";
  if (buf[1] !== 0) return `unknown batch flags 0x${buf[1].toString(16)}`;
  let count = 0;
  for (let at = BATCH_PREFIX; at < buf.length; ) {
    if (++count > MAX_BATCH_ENTRIES) return `more than ${MAX_BATCH_ENTRIES} calls in a batch`;
    if (at + ENTRY_PREFIX > buf.length) return `batch entry at byte ${at} is cut short`;
    const id = readU32(buf, at);
    const length = readU32(buf, at + 4);
    const start = at + ENTRY_PREFIX;
    if (id === 0) return `batch entry at byte ${at} has call id 0`;
    if (start + length > buf.length) return `batch entry at byte ${at} of ${length} bytes overruns a ${buf.length}-byte message`;
    each(id, buf.subarray(start, start + length));
    at = start + length;
  }
  return undefined;
}

/**
 * The call id at `from` to the end of a subject `I.<id>` (1 to 10 digits, at most 2^32 - 1), or
 * -1. A loop rather than a regular expression and Number(): it runs for every call.
 */
export function callIdAt(subject: string, from: number): number {
  const length = subject.length - from;
  if (length < 1 || length > 10) return -1;
  let id = 0;
  for (let i = from; i < subject.length; i++) {
    const digit = subject.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    id = id * 10 + digit;
  }
  return id > 0xffffffff ? -1 : id;
}

/**
 * Runs `handle` on a message that arrived, keeping any exception here: the message is dropped and
 * logged, and the subscription goes on (a thrown callback would end it).
 */
export function guarded(log: Logger, msg: Msg, handle: (msg: Msg) => void): void {
  try {
    handle(msg);
  } catch (err) {
    log.error("nats transport: internal error on a message, dropped it", { subject: msg.subject, err: err instanceof Error ? err.stack : String(err) });
  }
}

/** An empty message with status 503: NATS saying nobody subscribes to where we published. */
export function isNoResponders(msg: { data: Uint8Array; headers?: { code: number } }): boolean {
  return msg.data.length === 0 && msg.headers?.code === 503;
}

/** What client connections and listeners get from their transport: its one NATS connection. */
export interface NatsLink {
  readonly nc: NatsConnection;
  /** Largest message the NATS server accepts (its max_payload). */
  readonly maxPayload: number;
  /** The largest header block plus body of one frame (see maxMessageSize), for FramedStream. */
  readonly maxMessageSize: number;
  /** Milliseconds between checks that the peers of open calls and streams are still there. */
  readonly probeInterval: number;
  /** The user is done with the connection (the last one closes it). */
  release(): void;
}

/** A user of the shared connection, told when it drops (calls in flight cannot be answered). */
export interface LinkUser {
  connectionLost(reason: string): void;
}
