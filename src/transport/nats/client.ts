/**
 * The client side of the NATS transport: per connection, one subscription to its inbox `I` takes
 * tagged answers and answer batches (routed by the call ids in them) and one to `I.*` takes
 * everything else (routed by the id in the subject). Unary calls go out in batches where the
 * listener takes them. See wire.ts for the subjects and batches.
 */
import type { Msg, Subscription } from "@nats-io/transport-node";
import { ErrorId, MicroError } from "../../errors/errors.js";
import type { Logger } from "../../logger/logger.js";
import { RateLimitedLog } from "../../logger/rate-limited.js";
import { MicroHeader } from "../../metadata/headers.js";
import { FramedStream, type StreamOutput } from "../framing/framed-stream.js";
import { encodeHeader, headerProblem } from "../framing/header-block.js";
import { IdTable } from "../framing/id-table.js";
import { type PendingCall, PendingCalls } from "../framing/pending-calls.js";
import { type CallOptions, type ClientConnection, ConnectionLostError, type Message, NotDeliveredError, type TransportStream } from "../transport.js";
import {
  BATCH_OVERHEAD,
  BATCHES,
  BatchQueue,
  callIdAt,
  decodeFrame,
  encodeFrame,
  encodeFrameFrom,
  type FrameBatch,
  FrameFlag,
  FrameType,
  forEachInBatch,
  guarded,
  isBatch,
  isNoResponders,
  type LinkUser,
  type NatsLink,
  TAGGED,
} from "./wire.js";

const CLIENT_ID = ErrorId.client;
const EMPTY = new Uint8Array(0);

export class NatsClientConnection implements ClientConnection, StreamOutput, LinkUser {
  private readonly calls = new PendingCalls(
    (id, err) => this.cancel(id, err),
    () => this.checkAlive(),
  );
  private readonly streams = new IdTable<FramedStream>();
  /** `I.*`: answers routed by the id in their subject, pings, "no responders". */
  private readonly sub: Subscription;
  /** `I`: tagged answers and answer batches (see wire.ts). */
  private readonly taggedSub: Subscription;
  /** The listener answered the dial's ping with TAGGED: unary calls ask for tagged answers. */
  private requestFlags = 0;
  /** The listener answered the dial's ping with BATCHES: unary calls go out in batches. */
  private batches: BatchQueue | undefined;
  /**
   * The calls of each batch of several sent, by its first call's id (its reply subject), until
   * that call is settled: "no responders" to a batch fails all of its calls.
   */
  private readonly sentBatches = new IdTable<number[]>();
  /** `<inbox>.`: a call's reply subject is this and its id. */
  private readonly inboxDot: string;
  /** Where this connection's frames for call <id> go: `<control><id>`. */
  private readonly control: string;
  private readonly aliveCheck: NodeJS.Timeout;
  private readonly badMessageLog: RateLimitedLog;
  private nextId = 1;
  private goingAway = false;
  private dead = false;
  /** Settles the dial once the listener answers the first ping (or nobody does). */
  private dialed: { resolve(): void; reject(err: Error): void } | undefined;

  /** Subscribes to the inbox and waits until the listener answers a ping. */
  static async open(link: NatsLink, address: string, inbox: string, timeout: number, window: number, log: Logger): Promise<NatsClientConnection> {
    const conn = new NatsClientConnection(link, address, inbox, window, log);
    await conn.ping(timeout);
    return conn;
  }

  private constructor(
    private readonly link: NatsLink,
    private readonly address: string,
    inbox: string,
    private readonly window: number,
    private readonly log: Logger,
  ) {
    this.inboxDot = `${inbox}.`;
    this.control = `${address}.c.${inbox}.`;
    this.badMessageLog = new RateLimitedLog(log);
    const failed = (err: Error): void => this.fail(`inbox subscription failed: ${err.message}`);
    this.sub = link.nc.subscribe(`${inbox}.*`, { callback: (err, msg) => (err ? failed(err) : guarded(this.log, msg, this.onMessage)) });
    this.taggedSub = link.nc.subscribe(inbox, { callback: (err, msg) => (err ? failed(err) : guarded(this.log, msg, this.onTaggedAnswer)) });
    this.aliveCheck = setInterval(() => this.checkAlive(), link.probeInterval).unref();
  }

  get maxMessageSize(): number {
    return this.link.maxMessageSize;
  }

  get closed(): boolean {
    return this.dead || this.goingAway;
  }

  get pending(): number {
    return this.calls.size + this.streams.size;
  }

  call(request: Message, options: CallOptions = {}): Promise<Message> {
    if (this.closed) return Promise.reject(new NotDeliveredError(`connection to ${this.address} is closed`, this.address));
    const frame = encodeFrameFrom(FrameType.Request, request.header, request.body, this.requestFlags);
    if (!frame) return Promise.reject(new TypeError(`headers cannot be sent over NATS: ${headerProblem(request.header)}`));
    if (frame.length > this.link.maxPayload) {
      return Promise.reject(
        MicroError.tooLarge(CLIENT_ID, `request of ${frame.length} bytes exceeds the NATS maximum payload of ${this.link.maxPayload} bytes`),
      );
    }
    // A call that fits max_payload only without a batch's 10 bytes goes on its own, as to an older listener.
    const batches = frame.length + BATCH_OVERHEAD <= this.link.maxPayload ? this.batches : undefined;
    const id = this.takeId();
    return new Promise<Message>((resolve, reject) => {
      const refused = this.calls.add(id, options, resolve, reject);
      if (refused) return reject(refused);
      if (batches) return batches.add(this.address, id, frame);
      try {
        this.link.nc.publish(this.address, frame, { reply: this.inboxDot + id });
      } catch (err) {
        this.settle(id)?.reject(new NotDeliveredError(`publish to ${this.address}: ${(err as Error).message}`, this.address));
      }
    });
  }

  stream(request: Message, options: CallOptions = {}): TransportStream {
    const id = this.takeId();
    const stream = new FramedStream(id, this, this.window);
    if (this.closed) {
      stream.lost(`connection to ${this.address} is closed`);
      return stream;
    }
    const headerText = encodeHeader(request.header);
    const unsendable = headerProblem(request.header);
    if (unsendable) {
      stream.lost(`headers cannot be sent over NATS: ${unsendable}`, 400);
      return stream;
    }
    this.streams.set(id, stream);
    // The open goes first, so that a cancel from the deadline or signal below follows it.
    this.publish(this.address, encodeFrame(FrameType.Request, headerText, request.body, FrameFlag.Stream), this.inboxDot + id);
    stream.follow(options);
    return stream;
  }

  /** A batch of calls, with its first call's reply subject (see wire.ts). */
  private readonly sendBatch = (subject: string, batch: FrameBatch): void => {
    if (this.dead) return; // its calls have been failed
    try {
      this.link.nc.publish(subject, batch.encode(), { reply: this.inboxDot + batch.firstId });
      if (batch.size > 1) this.sentBatches.set(batch.firstId, batch.ids());
    } catch (err) {
      const failed = new NotDeliveredError(`publish to ${subject}: ${(err as Error).message}`, this.address);
      for (const id of batch.ids()) this.settle(id)?.reject(failed);
    }
  };

  /** StreamOutput: a stream's frame, with this stream's inbox as reply (see wire.ts). */
  frame(type: FrameType, stream: number, headerText: string, body: Uint8Array): void {
    this.publish(this.control + stream, encodeFrame(type, headerText, body), this.inboxDot + stream);
  }

  /** StreamOutput: a finished stream is forgotten. */
  streamClosed(stream: number): void {
    this.streams.delete(stream);
    this.endIfIdle();
  }

  /** Takes no new calls; the inbox closes once the calls and streams in flight are done. */
  close(): void {
    this.goingAway = true;
    this.endIfIdle();
  }

  /** LinkUser: the NATS connection dropped; nothing in flight can be answered now. */
  connectionLost(reason: string): void {
    this.fail(reason);
  }

  private takeId(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1; // 0 is the ping's
    return id;
  }

  private publish(subject: string, data: Uint8Array, reply?: string): void {
    if (this.dead) return;
    try {
      this.link.nc.publish(subject, data, reply === undefined ? undefined : { reply });
    } catch (err) {
      this.fail(`publish to ${subject}: ${(err as Error).message}`);
    }
  }

  /** The dial's check: the listener answers a ping on its subject, or NATS says nobody is there. */
  private ping(timeout: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.dialed = undefined;
        this.fail("dial timed out");
        reject(new NotDeliveredError(`dial ${this.address}: no answer within ${timeout} ms`, this.address));
      }, timeout);
      const settle = (err?: Error): void => {
        clearTimeout(timer);
        this.dialed = undefined;
        if (!err) return resolve();
        this.fail(err.message);
        reject(err);
      };
      this.dialed = { resolve: () => settle(), reject: settle };
      this.publish(this.address, encodeFrame(FrameType.Ping, "", EMPTY), `${this.inboxDot}0`);
    });
  }

  /**
   * Asks NATS whether the listener's control subject still has a subscriber: a ping whose reply
   * comes back "no responders" means the server is gone. Idle connections check too, so that one
   * to a server that stopped closes (as a TCP connection would) and stops holding NATS open.
   */
  private checkAlive(): void {
    if (!this.dead) this.publish(`${this.control}0`, encodeFrame(FrameType.Ping, "", EMPTY), `${this.inboxDot}0`);
  }

  /**
   * A tagged answer: a Response with its call id in the frame. One for a call no longer waiting
   * (it timed out, was cancelled) or never made is dropped, as a late answer on `I.<id>` is.
   */
  private readonly onTaggedAnswer = (msg: Msg): void => {
    if (isBatch(msg.data)) {
      const bad = forEachInBatch(msg.data, this.onBatchedAnswer);
      if (bad) this.badMessageLog.warn("nats transport: dropped the rest of a bad batch", { subject: msg.subject, reason: bad });
      return;
    }
    const frame = decodeFrame(msg.data);
    if (typeof frame === "string") return this.badMessageLog.warn("nats transport: dropped a bad message", { subject: msg.subject, reason: frame });
    if (frame.type !== FrameType.Response || (frame.flags & TAGGED) === 0) {
      return this.badMessageLog.warn("nats transport: dropped a bad message", { subject: msg.subject, reason: `untagged frame of type ${frame.type}` });
    }
    this.settle(frame.stream)?.resolve(frame); // a Frame is a Message (header and body)
  };

  /** One answer of an answer batch: a Response (untagged: the batch entry has its call id). */
  private readonly onBatchedAnswer = (id: number, bytes: Buffer): void => {
    const frame = decodeFrame(bytes);
    if (typeof frame === "string") return this.badMessageLog.warn("nats transport: dropped a bad message in a batch", { reason: frame });
    if (frame.type !== FrameType.Response) {
      return this.badMessageLog.warn("nats transport: dropped a bad message in a batch", { reason: `frame of type ${frame.type}` });
    }
    this.settle(id)?.resolve(frame);
  };

  private readonly onMessage = (msg: Msg): void => {
    const subject = msg.subject;
    const id = callIdAt(subject, this.inboxDot.length);
    if (id < 0) return this.badMessageLog.warn("nats transport: dropped a bad message", { subject, reason: "not a call id" });
    if (id === 0) return this.onPingAnswer(msg);
    if (isNoResponders(msg)) return this.onNobodyThere(id);
    const frame = decodeFrame(msg.data);
    if (typeof frame === "string") return this.badMessageLog.warn("nats transport: dropped a bad message", { subject, reason: frame });
    const stream = this.streams.get(id);
    if (stream) return stream.onFrame(frame);
    switch (frame.type) {
      case FrameType.Response:
        return this.settle(id)?.resolve(frame); // a Frame is a Message (header and body)
      case FrameType.Refused:
        this.goingAway = true;
        return this.settle(id)?.reject(
          new NotDeliveredError(`${this.address} refused the call: ${frame.header[MicroHeader.Error] ?? "server stopping"}`, this.address),
        );
      case FrameType.Cancel:
        // The server dropped the call (it was destroyed) after it may have run.
        return this.settle(id)?.reject(
          new ConnectionLostError(`${this.address} dropped the call: ${frame.header[MicroHeader.Error] ?? "server shut down"}`, this.address),
        );
      default:
        return;
    }
  };

  /** `I.0` hears the listener's Pong to the dial, "no responders" to our pings, and servers' pings (ignored). */
  private onPingAnswer(msg: Msg): void {
    if (isNoResponders(msg)) {
      if (this.dialed) return this.dialed.reject(new NotDeliveredError(`dial ${this.address}: nothing listens there`, this.address));
      return this.fail(`${this.address} is gone (its subject has no subscriber)`);
    }
    const frame = decodeFrame(msg.data);
    if (!this.dialed || typeof frame === "string" || frame.type !== FrameType.Pong) return;
    this.requestFlags = frame.flags & TAGGED;
    if (frame.flags & BATCHES) this.batches = new BatchQueue(this.link.maxPayload, this.sendBatch);
    this.dialed.resolve();
  }

  /**
   * A request, batch or stream frame found no subscriber: the listener stopped taking calls, or
   * died. A batch is one message, so none of its calls reached it: they are all sent elsewhere.
   */
  private onNobodyThere(id: number): void {
    this.goingAway = true;
    const nobody = new NotDeliveredError(`nothing listens at ${this.address}`, this.address);
    const batch = this.sentBatches.get(id);
    if (batch) for (const call of batch) this.settle(call)?.reject(nobody);
    else this.settle(id)?.reject(nobody);
    this.streams.get(id)?.lost(`nothing listens at ${this.address}`);
    this.endIfIdle();
  }

  private cancel(id: number, err: Error): void {
    const pending = this.settle(id);
    if (!pending) return;
    // The request may still wait for its batch: it goes first, so the listener sees the cancel after it.
    this.batches?.flush();
    this.publish(this.control + id, encodeFrame(FrameType.Cancel, "", EMPTY));
    pending.reject(err);
  }

  private settle(id: number): PendingCall | undefined {
    const pending = this.calls.settle(id);
    if (!pending) return undefined;
    // Its batch got somewhere (or no longer matters) once its first call is settled.
    if (this.sentBatches.size > 0) this.sentBatches.delete(id);
    this.endIfIdle();
    return pending;
  }

  private endIfIdle(): void {
    if (this.goingAway && this.pending === 0) this.shutDown();
  }

  private fail(reason: string): void {
    if (this.dead) return;
    // Calls still waiting for their batch never left: safe to send elsewhere.
    const unsent = new NotDeliveredError(`connection to ${this.address} lost before the call was sent: ${reason}`, this.address);
    for (const id of this.batches?.drop() ?? []) this.settle(id)?.reject(unsent);
    this.shutDown();
    if (this.calls.size > 0) this.log.debug("nats transport: connection lost with calls in flight", { address: this.address, reason, calls: this.calls.size });
    this.calls.failAll(new ConnectionLostError(reason, this.address));
    for (const stream of [...this.streams.values()]) stream.lost(reason);
  }

  /** Stops listening and gives the NATS connection back. */
  private shutDown(): void {
    if (this.dead) return;
    this.dead = true;
    clearInterval(this.aliveCheck);
    for (const sub of [this.sub, this.taggedSub]) if (!sub.isClosed()) sub.unsubscribe();
    this.link.release();
  }
}
