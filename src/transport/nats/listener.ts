/**
 * The server side of the NATS transport: a subscription on the listener's subject takes requests
 * and stream opens; one on `<subject>.c.>` takes what clients send about calls in flight. Each
 * call is known by the client's reply subject (`I.<id>`), which is also where its answers go, but
 * for a tagged request's response, and the responses to a batch of calls: those go to the client's
 * inbox `I`, the latter gathered into answer batches (see wire.ts).
 */
import type { Msg, Subscription } from "@nats-io/transport-node";
import { ErrorId, MicroError } from "../../errors/errors.js";
import type { Logger } from "../../logger/logger.js";
import { RateLimitedLog } from "../../logger/rate-limited.js";
import { MicroHeader } from "../../metadata/headers.js";
import { answerCall } from "../answer.js";
import { FramedStream, type StreamOutput } from "../framing/framed-stream.js";
import { encodeHeader, headerProblem } from "../framing/header-block.js";
import { HeaderMemo } from "../framing/header-memo.js";
import { IdTable } from "../framing/id-table.js";
import type { IncomingCall, Listener, ListenOptions, Message } from "../transport.js";
import {
  BATCH_OVERHEAD,
  BATCHES,
  BatchQueue,
  callIdAt,
  decodeFrame,
  encodeFrame,
  encodeFrameFrom,
  type Frame,
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

const SERVER_ID = ErrorId.server;
const EMPTY = new Uint8Array(0);
/** How long close() waits for NATS to confirm the listener subject is unsubscribed. */
const DRAIN_TIMEOUT = 2_000;
/** type + flags + headerLen, as wire.ts frames them. */
const FRAME_PREFIX = 6;
/** A client's inbox: a subject without wildcards or white space (see replyInbox). */
const INBOX = /^[^\s*>]{1,200}$/;
/** The flags a request may carry. */
const REQUEST_FLAGS = FrameFlag.Stream | TAGGED;
/** The Pong to a dial's ping from a listener that sends tagged answers (and takes batches), and from one that does not. */
const PONG_TAGGED = encodeFrame(FrameType.Pong, "", EMPTY, TAGGED | BATCHES);
const PONG = encodeFrame(FrameType.Pong, "", EMPTY);

/** What a listener lets one remote make it hold (options of the NATS transport). */
export interface NatsListenerLimits {
  /** Calls and streams one client (reply inbox) may have in flight at once (default 4096; more get 429). */
  maxCallsPerClient?: number;
  /** Headers in one message (default 256; more get 400). */
  maxHeaders?: number;
  /** Bytes of one message's header block (default 64 KiB; more get 400). */
  maxHeaderBytes?: number;
  /** Bytes of one message, or of one call in a batch (default: the NATS server's max_payload; more get 413). */
  maxMessageSize?: number;
  /** Milliseconds between two log lines about the same kind of bad message or limit hit (default 10 s; 0 logs each). */
  logInterval?: number;
  /**
   * Answer unary calls on the client's inbox subject, the call id in the frame, and take calls in
   * batches, answered in batches on that subject (default true; see wire.ts). Turn off where NATS
   * permissions let a service publish only to the reply subjects of the requests it got
   * (`allow_responses`): each answer then goes to its request's own reply subject.
   */
  taggedAnswers?: boolean;
}

interface Limits {
  maxCallsPerClient: number;
  maxHeaders: number;
  maxHeaderBytes: number;
  maxMessageSize: number;
}

/** Why a message is refused, and the error code its sender gets. */
interface Refusal {
  code: number;
  reason: string;
}

/** One client: its calls and streams in flight (see maxCallsPerClient), and its unary calls by id. */
interface ClientCalls {
  readonly inbox: string;
  count: number;
  /**
   * Not a Map keyed by reply subject: those are fresh strings, and a Map churned with fresh
   * string keys had V8 promote ~200 bytes per call to the old generation, so that at c=64 each
   * young collection took ~5 ms (see IdTable).
   */
  readonly unary: IdTable<ServerCall>;
}

/** The server's state for one unary call. The AbortSignal is made only if someone asks for it. */
class ServerCall implements IncomingCall {
  private controller: AbortController | undefined;
  private cancelled: MicroError | undefined;

  /**
   * `key`: the call's reply subject, `<inbox>.<id>`. `tag`: the call id its response is tagged
   * with, sent to the client's inbox; -1 to answer on the reply subject. `batched`: the call came
   * in a batch, and is answered in one (by `tag`).
   */
  constructor(
    readonly client: ClientCalls,
    readonly key: string,
    readonly id: number,
    readonly tag: number,
    readonly batched: boolean,
  ) {}

  /** Who made the call: the client's inbox. */
  get remote(): string {
    return this.client.inbox;
  }

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.cancelled && !this.controller.signal.aborted) this.controller.abort(this.cancelled);
    return this.controller.signal;
  }

  cancel(reason: string): void {
    if (this.cancelled) return;
    this.cancelled = new MicroError(ErrorId.client, 499, reason);
    this.controller?.abort(this.cancelled);
  }
}

/**
 * The client's inbox when `key` is a call's reply subject: the inbox (1 to 200 characters, no
 * white space or wildcards), a dot, and a call id of 1 to 10 digits; otherwise undefined.
 * `known` is an inbox accepted before: a client sends many calls, so its inbox is checked once.
 */
function replyInbox(key: string, known: string): string | undefined {
  const dot = key.lastIndexOf(".");
  const digits = key.length - dot - 1;
  if (dot < 1 || digits < 1 || digits > 10) return undefined;
  for (let i = dot + 1; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return undefined;
  }
  // The inbox seen last, without a new string per call.
  if (dot === known.length && key.startsWith(known)) return known;
  const inbox = key.slice(0, dot);
  return INBOX.test(inbox) ? inbox : undefined;
}

export class NatsListener implements Listener, LinkUser {
  /** Unary calls in flight, over every client (each client holds its own). */
  private unaryCalls = 0;
  private readonly streams = new Map<string, FramedStream>();
  private readonly requests: Subscription;
  private readonly control: Subscription;
  /** `<subject>.c.`: the prefix of every call's control subject. */
  private readonly controlPrefix: string;
  private readonly probe: NodeJS.Timeout;
  /**
   * Clients by inbox, with their calls and streams in flight (see maxCallsPerClient). A client
   * with none is kept until the next probe, so that a lone caller's entry is not made anew for
   * every call.
   */
  private readonly perClient = new Map<string, ClientCalls>();
  /** The last inbox replyInbox accepted. */
  private knownInbox = "";
  private readonly limits: Limits;
  /** Unary calls that ask for it are answered tagged, and batches in batches (see NatsListenerLimits.taggedAnswers). */
  private readonly taggedAnswers: boolean;
  /** Answers to batched calls, per client inbox, until this turn's microtasks run. */
  private readonly answers: BatchQueue;
  /** Callers of one service begin their requests with the same headers (see HeaderMemo). */
  private readonly requestHeaders = new HeaderMemo();
  private readonly limitLog: RateLimitedLog;
  private closing = false;
  private drained = false;
  private dead = false;

  /** Subscribes, and resolves once the NATS server has the subscriptions (calls can arrive). */
  static async open(
    link: NatsLink,
    subject: string,
    options: ListenOptions,
    window: number,
    log: Logger,
    limits: NatsListenerLimits = {},
  ): Promise<NatsListener> {
    const listener = new NatsListener(link, subject, options, window, log, limits);
    await link.nc.flush();
    return listener;
  }

  private constructor(
    private readonly link: NatsLink,
    readonly address: string,
    private readonly options: ListenOptions,
    private readonly window: number,
    private readonly log: Logger,
    limits: NatsListenerLimits,
  ) {
    this.limits = {
      maxCallsPerClient: limits.maxCallsPerClient ?? 4096,
      maxHeaders: limits.maxHeaders ?? 256,
      maxHeaderBytes: limits.maxHeaderBytes ?? 64 * 1024,
      maxMessageSize: limits.maxMessageSize ?? link.maxPayload,
    };
    this.taggedAnswers = limits.taggedAnswers !== false;
    this.answers = new BatchQueue(link.maxPayload, (inbox, batch) => this.publish(inbox, batch.encode()));
    this.limitLog = new RateLimitedLog(log, limits.logInterval ?? 10_000);
    this.controlPrefix = `${address}.c.`;
    this.requests = link.nc.subscribe(address, { callback: (err, msg) => (err ? this.subscriptionFailed(err) : guarded(this.log, msg, this.onRequest)) });
    this.control = link.nc.subscribe(`${this.controlPrefix}>`, {
      callback: (err, msg) => (err ? this.subscriptionFailed(err) : guarded(this.log, msg, this.onControl)),
    });
    this.probe = setInterval(() => this.checkClients(), link.probeInterval).unref();
  }

  /**
   * Stops taking new calls: the subject is unsubscribed, so new requests get "no responders" and
   * clients go elsewhere. Calls and streams in flight go on; the rest closes when they are done.
   */
  async close(): Promise<void> {
    if (this.closing || this.dead) return;
    this.closing = true;
    // drain(), not unsubscribe(): requests NATS routed here before the unsubscribe are still served.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_TIMEOUT)));
    await Promise.race([this.requests.drain().catch(() => {}), timeout]);
    clearTimeout(timer);
    this.drained = true;
    this.finishIfIdle();
  }

  /** Drops every call and stream at once, telling their clients. */
  destroy(): void {
    if (this.dead) return;
    const gone = new MicroError(SERVER_ID, 503, "server shut down");
    for (const call of this.takeEveryCall()) {
      call.cancel("server shut down");
      this.publish(call.key, encodeFrame(FrameType.Cancel, encodeHeader({ [MicroHeader.Error]: gone.detail }), EMPTY));
    }
    this.unaryCalls = 0;
    for (const [key, stream] of [...this.streams]) {
      this.publish(key, encodeFrame(FrameType.End, encodeHeader({ [MicroHeader.Error]: gone.toString() }), EMPTY));
      stream.lost("server shut down");
    }
    this.perClient.clear();
    this.finish();
  }

  /** LinkUser: the NATS connection dropped; nothing in flight can be answered now. */
  connectionLost(reason: string): void {
    for (const call of this.takeEveryCall()) call.cancel(reason);
    this.unaryCalls = 0;
    for (const stream of [...this.streams.values()]) stream.lost(reason);
    this.perClient.clear();
    this.finishIfIdle();
  }

  /**
   * A request or stream open. Every field is checked before use: the reply subject, the frame's
   * type, flags and sizes, the header count and text; a bad message from a caller that can be
   * answered gets an error reply, anything else is dropped, and both are logged (rate-limited).
   */
  private readonly onRequest = (msg: Msg): void => {
    const key = msg.reply ?? "";
    const inbox = replyInbox(key, this.knownInbox);
    // Where a refusal is answered: only a reply subject `<inbox>.<id>` is a caller to answer.
    const answerTo = inbox === undefined ? undefined : key;
    // A batch's size is the NATS server's to limit; the listener's limits apply to each call in it.
    if (isBatch(msg.data)) return this.onBatch(msg, inbox);
    const tooBig = this.checkSize(msg.data);
    if (tooBig) return this.refuse(msg, answerTo, tooBig);
    const frame = decodeFrame(msg.data, this.limits.maxHeaders, this.requestHeaders);
    if (typeof frame === "string") return this.refuse(msg, answerTo, { code: 400, reason: frame });
    if (inbox === undefined) return this.dropped(msg, key ? `reply subject ${JSON.stringify(key.slice(0, 64))} is not <inbox>.<id>` : "no reply subject");
    this.knownInbox = inbox;
    // The Pong tells the client whether to ask for tagged answers and send batches.
    if (frame.type === FrameType.Ping) return this.publish(key, this.taggedAnswers ? PONG_TAGGED : PONG);
    if (frame.type !== FrameType.Request) return this.dropped(msg, `frame type ${frame.type} on the request subject`);
    const bad = this.checkRequest(frame);
    if (bad) return this.refuse(msg, key, bad);
    const id = callIdAt(key, inbox.length + 1);
    if (frame.flags & FrameFlag.Stream) {
      const client = this.admitCall(key, inbox, id, msg);
      return client && this.openStream(key, client, frame);
    }
    if (id <= 0) return this.refuse(msg, key, { code: 400, reason: `reply subject ${key} does not end in a call id from 1 to 2^32 - 1` });
    const client = this.admitCall(key, inbox, id, msg);
    if (client) this.serveCall(new ServerCall(client, key, id, frame.flags & TAGGED && this.taggedAnswers ? id : -1, false), frame);
  };

  /**
   * A batch of unary calls (see wire.ts): each is checked and served as a request of its own
   * would be, its errors answered on its own reply subject `<inbox>.<id>`. A batch whose layout
   * is broken is served up to the fault; the rest is dropped and logged.
   */
  private onBatch(msg: Msg, inbox: string | undefined): void {
    if (inbox === undefined) return this.dropped(msg, msg.reply ? "a batch's reply subject is not <inbox>.<id>" : "a batch without a reply subject");
    this.knownInbox = inbox;
    let served = 0;
    const bad = forEachInBatch(msg.data, (id, bytes) => {
      served++;
      this.onBatchedCall(msg, inbox, id, bytes);
    });
    if (!bad) return;
    this.dropped(msg, `the rest of a batch: ${bad}`);
    // Broken from its first entry: its sender hears why, on the batch's reply subject.
    if (served === 0) this.answerError(msg.reply!, new MicroError(SERVER_ID, 400, `bad batch: ${bad}`));
  }

  private onBatchedCall(msg: Msg, inbox: string, id: number, bytes: Buffer): void {
    const key = `${inbox}.${id}`;
    const tooBig = this.checkSize(bytes);
    if (tooBig) return this.refuse(msg, key, tooBig);
    const frame = decodeFrame(bytes, this.limits.maxHeaders, this.requestHeaders);
    if (typeof frame === "string") return this.refuse(msg, key, { code: 400, reason: frame });
    if (frame.type !== FrameType.Request) return this.refuse(msg, key, { code: 400, reason: `frame type ${frame.type} in a batch` });
    // TAGGED is allowed (and implied): a client encodes a call before it knows whether it goes in a batch.
    const bad = this.checkRequest(frame, TAGGED);
    if (bad) return this.refuse(msg, key, bad);
    const client = this.admitCall(key, inbox, id, msg);
    // Without tagged answers (taggedAnswers: false), each is answered on its own reply subject.
    if (client) this.serveCall(new ServerCall(client, key, id, this.taggedAnswers ? id : -1, this.taggedAnswers), frame);
  }

  /**
   * Checks that call `key` is not in flight already and that its client may make another; the
   * client's count, or undefined when the call was dropped or refused (and said so).
   */
  private admitCall(key: string, inbox: string, id: number, msg: Msg): ClientCalls | undefined {
    const known = this.perClient.get(inbox);
    if ((id > 0 && known?.unary.has(id)) || (this.streams.size > 0 && this.streams.has(key))) {
      this.dropped(msg, `reply subject ${key} reused while its call is in flight`);
      return undefined;
    }
    const client = this.admit(inbox, known);
    if (!client) {
      this.limitLog.warn("nats transport: a client has too many calls in flight, refusing more", { inbox, limit: this.limits.maxCallsPerClient });
      this.answerError(key, new MicroError(SERVER_ID, 429, `too many calls in flight from this client (limit ${this.limits.maxCallsPerClient})`));
    }
    return client;
  }

  /** The size limits, read from the frame's prefix before anything is decoded. */
  private checkSize(data: Uint8Array): Refusal | undefined {
    if (data.length > this.limits.maxMessageSize)
      return { code: 413, reason: `message of ${data.length} bytes exceeds the limit of ${this.limits.maxMessageSize} bytes` };
    if (data.length < FRAME_PREFIX) return undefined; // decodeFrame says why
    const headerBytes = ((data[2] << 24) | (data[3] << 16) | (data[4] << 8) | data[5]) >>> 0; // wire.ts: u32 at offset 2
    if (headerBytes > this.limits.maxHeaderBytes)
      return { code: 400, reason: `header block of ${headerBytes} bytes exceeds the limit of ${this.limits.maxHeaderBytes} bytes` };
    return undefined;
  }

  /** Flags of a decoded request or stream message (its header block was checked as it was decoded). */
  private checkRequest(frame: Frame, allowed = REQUEST_FLAGS): Refusal | undefined {
    if ((frame.flags & ~allowed) !== 0) return { code: 400, reason: `unknown frame flags 0x${frame.flags.toString(16)}` };
    return undefined;
  }

  /**
   * Counts a call or stream against the limit of the client at `inbox` (`client`, when it is
   * known already); undefined when the client is at it.
   */
  private admit(inbox: string, client: ClientCalls | undefined): ClientCalls | undefined {
    if ((client?.count ?? 0) >= this.limits.maxCallsPerClient) return undefined; // a refused client is not kept
    if (!client) {
      client = { inbox, count: 0, unary: new IdTable<ServerCall>() };
      this.perClient.set(inbox, client);
    }
    client.count++;
    return client;
  }

  /** A call or stream of `client` is over (the client is forgotten at the next probe if it has none left). */
  private leave(client: ClientCalls): void {
    client.count--;
  }

  /** A unary call is over: forgotten by its client, and counted out. */
  private forget(call: ServerCall): void {
    call.client.unary.delete(call.id);
    this.unaryCalls--;
    this.leave(call.client);
  }

  /** Takes the unary calls in flight out of every client's table, and returns them. */
  private takeEveryCall(): ServerCall[] {
    const calls: ServerCall[] = [];
    for (const client of this.perClient.values()) {
      calls.push(...client.unary.values());
      client.unary.clear();
    }
    return calls;
  }

  /**
   * A message, or one call of a batch, is refused: logged, and answered at `answerTo` (the call's
   * reply subject) when there is one to answer.
   */
  private refuse(msg: Msg, answerTo: string | undefined, refusal: Refusal): void {
    this.dropped(msg, answerTo === undefined || answerTo === msg.reply ? refusal.reason : `call ${answerTo} of a batch: ${refusal.reason}`);
    if (answerTo !== undefined) this.answerError(answerTo, new MicroError(SERVER_ID, refusal.code, refusal.reason));
  }

  private answerError(key: string, err: MicroError): void {
    this.publish(key, encodeFrame(FrameType.Response, encodeHeader({ [MicroHeader.Error]: err.toString() }), EMPTY));
  }

  private serveCall(call: ServerCall, frame: Frame): void {
    call.client.unary.set(call.id, call);
    this.unaryCalls++;
    answerCall(this.options.handler, { header: frame.header, body: frame.body }, call, (response) => this.respond(call, response), this.log);
  }

  private respond(call: ServerCall, response: Message): void {
    if (call.client.unary.get(call.id) !== call) return; // cancelled: the caller is no longer listening
    this.forget(call);
    const key = call.key;
    // A batched call's answer carries no tag: its batch entry has the call id.
    let tagged = call.tag >= 0 && !call.batched;
    let frame = encodeFrameFrom(FrameType.Response, response.header, response.body, 0, tagged ? call.tag : undefined);
    if (call.batched && frame && frame.length + BATCH_OVERHEAD <= this.link.maxPayload) {
      this.answers.add(call.client.inbox, call.tag, frame);
      return this.finishIfIdle();
    }
    // Otherwise (and for a batched call that is unsendable or too large for a batch) on the call's reply subject, or tagged on the inbox.
    if (tagged && frame && frame.length > this.link.maxPayload) {
      // The tag's 4 bytes tipped it over: untagged, on the call's reply subject, it may still fit.
      tagged = false;
      frame = encodeFrameFrom(FrameType.Response, response.header, response.body);
    }
    if (!frame) {
      const problem = headerProblem(response.header);
      this.log.warn("response header cannot be sent", { remote: call.remote, problem });
      this.answerError(key, MicroError.internal(SERVER_ID, `response not sent: ${problem}`));
    } else if (frame.length > this.link.maxPayload) {
      this.log.warn("response too large", { remote: call.remote, size: frame.length });
      this.answerError(
        key,
        MicroError.tooLarge(SERVER_ID, `response of ${frame.length} bytes exceeds the NATS maximum payload of ${this.link.maxPayload} bytes`),
      );
    } else {
      this.publish(tagged ? call.client.inbox : key, frame);
    }
    this.finishIfIdle();
  }

  private openStream(key: string, client: ClientCalls, frame: Frame): void {
    if (!this.options.streamHandler) {
      const err = new MicroError(SERVER_ID, 501, "this server does not take streams");
      this.leave(client);
      return this.publish(key, encodeFrame(FrameType.End, encodeHeader({ [MicroHeader.Error]: err.toString() }), EMPTY));
    }
    const stream = new FramedStream(0, this.streamOutput(key, client), this.window);
    this.streams.set(key, stream);
    try {
      this.options.streamHandler({ header: frame.header, body: frame.body }, stream, { remote: client.inbox, signal: stream.signal });
    } catch (err) {
      this.log.error("stream handler failed", { err: err instanceof Error ? err.stack : String(err) });
      stream.end(MicroError.internal(SERVER_ID, "internal server error").toString());
    }
  }

  /** Where one stream's frames go: the client's inbox for it, with our subject for it as reply. */
  private streamOutput(key: string, client: ClientCalls): StreamOutput {
    const reply = this.controlPrefix + key;
    return {
      maxMessageSize: this.link.maxMessageSize,
      frame: (type, _stream, headerText, body) => this.publish(key, encodeFrame(type, headerText, body), reply),
      streamClosed: () => {
        if (this.streams.delete(key)) this.leave(client);
        this.finishIfIdle();
      },
    };
  }

  /** What clients send about calls in flight: cancels, stream frames, and liveness pings. */
  private readonly onControl = (msg: Msg): void => {
    const key = msg.subject.slice(this.controlPrefix.length);
    const inbox = replyInbox(key, this.knownInbox);
    if (inbox === undefined) return this.dropped(msg, "control subject does not name a call");
    if (isNoResponders(msg)) return this.clientGone(inbox);
    const tooBig = this.checkSize(msg.data);
    if (tooBig) return this.dropped(msg, tooBig.reason);
    const frame = decodeFrame(msg.data);
    if (typeof frame === "string") return this.dropped(msg, frame);
    if (frame.type === FrameType.Data) {
      const bad = this.checkRequest(frame, FrameFlag.Stream);
      if (bad) {
        this.dropped(msg, bad.reason);
        return this.streams.get(key)?.end(new MicroError(SERVER_ID, bad.code, bad.reason).toString());
      }
    }
    switch (frame.type) {
      case FrameType.Cancel: {
        const id = callIdAt(key, inbox.length + 1);
        const call = id > 0 ? this.perClient.get(inbox)?.unary.get(id) : undefined;
        if (call) {
          call.cancel("call cancelled by the caller");
          this.forget(call);
          this.finishIfIdle();
        }
        return this.streams.get(key)?.onFrame(frame);
      }
      case FrameType.Data:
      case FrameType.End:
      case FrameType.Window:
        return this.streams.get(key)?.onFrame(frame);
      default:
        return; // Ping: the client only wanted NATS to see that we are subscribed
    }
  };

  /**
   * While calls or streams are open, pings each client's inbox with a reply on our control
   * subject: "no responders" back means the client is gone (see clientGone).
   */
  private checkClients(): void {
    if (this.dead) return;
    const ping = encodeFrame(FrameType.Ping, "", EMPTY);
    for (const [inbox, client] of this.perClient) {
      // A client with nothing in flight is forgotten; one with calls or streams in flight is pinged.
      if (client.count === 0) this.perClient.delete(inbox);
      else this.publish(`${inbox}.0`, ping, `${this.controlPrefix}${inbox}.0`);
    }
  }

  /** A client's inbox has no subscriber: its calls are abandoned and its streams are over. */
  private clientGone(inbox: string): void {
    const prefix = `${inbox}.`;
    for (const call of this.perClient.get(inbox)?.unary.values() ?? []) {
      call.cancel("the caller is gone");
      this.forget(call);
    }
    for (const [key, stream] of [...this.streams]) if (key.startsWith(prefix)) stream.lost("the caller is gone");
    this.finishIfIdle();
  }

  private publish(subject: string, data: Uint8Array, reply?: string): void {
    if (this.dead) return;
    try {
      this.link.nc.publish(subject, data, reply === undefined ? undefined : { reply });
    } catch (err) {
      this.log.warn("nats transport: publish failed", { subject, err: (err as Error).message });
    }
  }

  private dropped(msg: Msg, reason: string): void {
    this.limitLog.warn("nats transport: dropped a bad message", { subject: msg.subject, reply: msg.reply, bytes: msg.data.length, reason });
  }

  private subscriptionFailed(err: Error): void {
    this.log.error("nats transport: listener subscription failed", { address: this.address, err: err.message });
  }

  /** After close(): the control subscription goes once the calls in flight are done. */
  private finishIfIdle(): void {
    if (this.drained && this.unaryCalls === 0 && this.streams.size === 0) this.finish();
  }

  private finish(): void {
    if (this.dead) return;
    // Answers still waiting for the turn's end leave before the connection may close.
    this.answers.flush();
    this.dead = true;
    clearInterval(this.probe);
    for (const sub of [this.requests, this.control]) {
      try {
        if (!sub.isClosed()) sub.unsubscribe();
      } catch {
        // already going: a drain in progress, or the connection closed
      }
    }
    this.link.release();
  }
}
