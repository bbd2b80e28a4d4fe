/**
 * The server end of a mux connection: checks the preface (or hands the socket to a sniffer, e.g.
 * Go Micro's HTTP transport on the same port), then serves each request frame as a call and each
 * stream-opening request as a stream. Bad input closes this connection with a logged reason.
 *
 * Nothing a client does makes the connection hold more than its limits (see options.ts): a
 * listener-wide watchdog (check) closes connections that stall in the preface or mid-frame and
 * idle ones; replies a client does not read stop the reading of its requests, then close it.
 */
import type net from "node:net";
import { ErrorId, MicroError } from "../../errors/errors.js";
import type { Logger } from "../../logger/logger.js";
import type { RateLimitedLog } from "../../logger/rate-limited.js";
import type { PeerCertificate } from "../../metadata/context.js";
import { MicroHeader } from "../../metadata/headers.js";
import { answerCall } from "../answer.js";
import { FRAME_PREFIX, type Frame, FrameFlag, FrameType, PREFACE } from "../framing/frame.js";
import { type FrameBudget, FrameReader } from "../framing/frame-reader.js";
import { FrameWriter } from "../framing/frame-writer.js";
import { FramedStream, type StreamOutput } from "../framing/framed-stream.js";
import { encodeHeader, headerBound, headerProblem } from "../framing/header-block.js";
import { IdTable } from "../framing/id-table.js";
import { joinHostPort } from "../tcp.js";
import type { IncomingCall, ListenOptions, Message, RequestHandler, StreamHandler } from "../transport.js";
import { HEADER_REFS_OFFER, REF_SET, REF_USE, refOffer, ServerHeaderRefs } from "./header-refs.js";
import type { MuxLimits, MuxOptions, SniffedConnection } from "./options.js";
import { frameProblem } from "./protocol.js";
import { looksLikeTls, verifiedPeerCertificate } from "./tls.js";

const EMPTY = Buffer.alloc(0);
const CLIENT_ID = ErrorId.client;
const SERVER_ID = ErrorId.server;
/** How long a connection closed for a protocol error may take to deliver the error. */
const LINGER_MS = 1_000;

/** The server's state for one incoming call. The AbortSignal is made only if someone asks for it. */
class ServerCall implements IncomingCall {
  private controller: AbortController | undefined;
  cancelled = false;

  constructor(
    readonly remote: string,
    readonly certificate: PeerCertificate | undefined,
  ) {}

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.cancelled && !this.controller.signal.aborted) this.controller.abort(new MicroError(CLIENT_ID, 499, "call cancelled by the caller"));
    return this.controller.signal;
  }

  cancel(reason: string): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.controller?.abort(new MicroError(CLIENT_ID, 499, reason));
  }
}

/** What a listener's connections share. */
export interface ServerContext {
  readonly limits: MuxLimits;
  readonly log: Logger;
  /** Lines about limits and bad input: at most one per kind per interval. */
  readonly limitLog: RateLimitedLog;
  /** The listener's allowance for partly received frames. */
  readonly partialFrames: FrameBudget;
  readonly listenOptions: ListenOptions;
  readonly sniff: MuxOptions["sniff"];
}

export class ServerConnection implements StreamOutput {
  private readonly calls = new IdTable<ServerCall>();
  private readonly streams = new IdTable<FramedStream>();
  private readonly handler: RequestHandler;
  private readonly streamHandler: StreamHandler | undefined;
  private readonly maxFrameSize: number;
  /** StreamOutput: what a stream message may take of a frame. */
  readonly maxMessageSize: number;
  private readonly writer: FrameWriter;
  private readonly reader: FrameReader;
  private readonly remote: string;
  /** The client's verified certificate, on an mTLS connection. */
  private readonly certificate: PeerCertificate | undefined;
  private readonly limits: MuxLimits;
  private readonly log: Logger;
  private sawPreface = false;
  private pendingPreface: Buffer | undefined;
  private handedOff: SniffedConnection | undefined;
  private goneAway = false;
  private dead = false;
  /** Reading paused until the client takes the replies queued for it. */
  private paused = false;
  // The watchdog's view (see check): what it saw last time, and since when.
  private readonly openedAt = Date.now();
  private framesSeen = 0;
  private framesSeenAt = this.openedAt;
  /** Header values this connection's client has set (header-refs.ts), made when it asks for references. */
  private refs: ServerHeaderRefs | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly context: ServerContext,
    /** Called once the connection is closed. */
    private readonly onClosed: (conn: ServerConnection) => void,
  ) {
    const { limits, listenOptions } = context;
    this.limits = limits;
    this.log = context.log;
    this.handler = listenOptions.handler;
    this.streamHandler = listenOptions.streamHandler;
    this.maxFrameSize = limits.maxFrameSize;
    this.maxMessageSize = limits.maxFrameSize - FRAME_PREFIX;
    this.remote = joinHostPort(socket.remoteAddress ?? "?", socket.remotePort ?? 0);
    this.certificate = verifiedPeerCertificate(socket);
    this.writer = new FrameWriter(this.write, limits);
    this.reader = new FrameReader(limits, (frame) => this.onFrame(frame), context.partialFrames);
    socket.on("data", this.onData);
    socket.on("error", (err) => this.close(`socket error: ${err.message}`, "debug"));
    socket.on("close", () => this.close("closed by peer", "debug"));
  }

  /**
   * Called by the listener every so often: closes the connection if it has been too long in
   * the preface, in one frame, or idle. Time is read here, not per frame: the hot path only
   * counts frames.
   */
  check(now: number): void {
    if (this.dead || this.handedOff) return;
    const limits = this.limits;
    if (!this.sawPreface) {
      if (now - this.openedAt > limits.prefaceTimeout) this.limitClose(`no mux preface within ${limits.prefaceTimeout} ms`, "preface timeout");
      return;
    }
    if (this.reader.frames !== this.framesSeen) {
      this.framesSeen = this.reader.frames;
      this.framesSeenAt = now;
      return;
    }
    const quiet = now - this.framesSeenAt;
    if (this.reader.holding > 0) {
      if (quiet > limits.frameTimeout && !this.paused)
        this.limitClose(`frame not completed within ${limits.frameTimeout} ms (${this.reader.holding} bytes received)`, "frame timeout");
    } else if (quiet > limits.idleTimeout && this.calls.size === 0 && this.streams.size === 0) {
      this.context.limitLog.debug("closing idle mux connection", { remote: this.remote, idleTimeout: limits.idleTimeout });
      this.goAway();
    }
  }

  /** Writes replies, and stops reading requests while the client is not taking them. */
  private readonly write = (chunk: Buffer): void => {
    if (this.dead) return;
    const socket = this.socket;
    socket.write(chunk);
    if (socket.writableLength > this.limits.pauseReadingAt) this.backOff();
  };

  private backOff(): void {
    const queued = this.socket.writableLength;
    if (queued > this.limits.maxReplyBuffer) {
      return this.limitClose(`client not reading its replies: ${queued} bytes queued (limit ${this.limits.maxReplyBuffer})`, "reply buffer limit");
    }
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
    this.context.limitLog.debug("mux connection paused: replies not drained", { remote: this.remote, queued });
    this.socket.once("drain", () => {
      this.paused = false;
      if (!this.dead) this.socket.resume();
    });
  }

  /** Bytes from the client. Whatever they hold, nothing thrown here may reach the process. */
  private readonly onData = (chunk: Buffer): void => {
    try {
      this.read(chunk);
    } catch (err) {
      this.log.error("mux connection failed on its input", { remote: this.remote, err: err instanceof Error ? err.stack : String(err) });
      this.close("internal error while reading its input", "debug");
    }
  };

  private read(chunk: Buffer): void {
    if (this.dead) return;
    let data = chunk;
    if (!this.sawPreface) {
      const head = this.pendingPreface ? Buffer.concat([this.pendingPreface, chunk]) : chunk; // < 8 bytes held
      if (head.length < PREFACE.length && PREFACE.subarray(0, head.length).equals(head)) {
        this.pendingPreface = head; // wait for the rest of the preface
        return;
      }
      this.pendingPreface = undefined;
      if (!head.subarray(0, PREFACE.length).equals(PREFACE)) {
        this.socket.off("data", this.onData);
        this.handedOff = this.context.sniff?.(this.socket, head, this.context.listenOptions);
        if (this.handedOff) return;
        if (looksLikeTls(head)) return this.close("a TLS client, but this server is plaintext (MICRO_TRANSPORT_SECURE is off)", "warn");
        return this.close(`not a mux client (first bytes ${JSON.stringify(head.subarray(0, 16).toString("latin1"))})`, "warn");
      }
      this.sawPreface = true;
      data = head.subarray(PREFACE.length);
      if (data.length === 0) return;
    }
    const problem = this.reader.push(data);
    if (problem) this.protocolError(problem);
  }

  goAway(): void {
    if (this.handedOff) return this.handedOff.goAway();
    if (this.goneAway || this.dead) return;
    this.goneAway = true;
    this.writer.push(FrameType.GoAway, 0, "", EMPTY);
    this.endIfIdle();
  }

  frame(type: FrameType, stream: number, headerText: string, body: Uint8Array): void {
    if (!this.dead) this.writer.push(type, stream, headerText, body);
  }

  streamClosed(stream: number): void {
    this.streams.delete(stream);
    this.endIfIdle();
  }

  private endIfIdle(): void {
    if (!this.goneAway || this.dead || this.calls.size > 0 || this.streams.size > 0) return;
    this.writer.flush();
    this.socket.end();
  }

  destroy(): void {
    if (this.handedOff) return this.handedOff.destroy();
    this.close("server shut down", "debug");
  }

  private onFrame(frame: Frame): void {
    if (this.dead) return;
    const problem = frameProblem(frame, "client");
    if (problem) return this.protocolError(problem);
    switch (frame.type) {
      case FrameType.Request:
        return this.onRequest(frame);
      case FrameType.Cancel:
        this.calls.get(frame.stream)?.cancel("call cancelled by the caller");
        this.calls.delete(frame.stream);
        this.streams.get(frame.stream)?.onFrame(frame);
        return;
      case FrameType.Data:
      case FrameType.End:
      case FrameType.Window:
        this.streams.get(frame.stream)?.onFrame(frame);
        return;
      case FrameType.Ping:
        return this.writer.push(FrameType.Pong, frame.stream, this.answerHello(frame), EMPTY);
      default:
        return; // Pong needs nothing
    }
  }

  /** The Pong's header block: the offer of header references, if the ping asked for them. */
  private answerHello(ping: Frame): string {
    const offer = refOffer(ping.header, this.limits.headerRefSlots);
    if (offer === undefined) return "";
    this.refs ??= new ServerHeaderRefs(this.limits.headerRefSlots);
    return encodeHeader({ [HEADER_REFS_OFFER]: offer });
  }

  /**
   * Puts back the values a request sends by reference; or the error to answer it with. Only on
   * a connection whose client asked for references: on any other, these are ordinary headers,
   * as for a server without references.
   */
  private resolveRefs(frame: Frame): MicroError | undefined {
    const refs = this.refs;
    if (refs === undefined) return undefined;
    const header = frame.header;
    if (header[REF_USE] === undefined && header[REF_SET] === undefined) return undefined;
    return refs.resolve(header);
  }

  private onRequest(frame: Frame): void {
    // First, whatever else happens to the request: the client counts its slot sets as done.
    const badReference = this.resolveRefs(frame);
    if (this.goneAway) {
      this.writer.push(FrameType.Refused, frame.stream, encodeHeader({ [MicroHeader.Error]: "server stopping" }), EMPTY);
      return;
    }
    if (this.calls.has(frame.stream) || this.streams.has(frame.stream)) return this.protocolError(`stream id ${frame.stream} reused while in flight`);
    if (this.calls.size + this.streams.size >= this.limits.maxCallsPerConnection) {
      const limit = this.limits.maxCallsPerConnection;
      this.context.limitLog.warn("mux call refused: calls per connection limit reached", { remote: this.remote, limit });
      this.writer.push(FrameType.Refused, frame.stream, encodeHeader({ [MicroHeader.Error]: `more than ${limit} calls in flight on this connection` }), EMPTY);
      return;
    }
    if (badReference) {
      this.context.limitLog.warn("mux request refused: bad header reference", { remote: this.remote, reason: badReference.detail }, "header reference");
      const type = frame.flags & FrameFlag.Stream ? FrameType.End : FrameType.Response;
      this.writer.push(type, frame.stream, encodeHeader({ [MicroHeader.Error]: badReference.toString() }), EMPTY);
      return;
    }
    if (frame.flags & FrameFlag.Stream) return this.onStream(frame);
    const call = new ServerCall(this.remote, this.certificate);
    this.calls.set(frame.stream, call);
    answerCall(this.handler, frame, call, (response) => this.respond(frame.stream, call, response), this.log);
  }

  private onStream(frame: Frame): void {
    if (!this.streamHandler) {
      const err = new MicroError(SERVER_ID, 501, "this server does not take streams");
      this.writer.push(FrameType.End, frame.stream, encodeHeader({ [MicroHeader.Error]: err.toString() }), EMPTY);
      return;
    }
    const stream = new FramedStream(frame.stream, this, this.limits.streamWindow);
    this.streams.set(frame.stream, stream);
    this.streamHandler({ header: frame.header, body: frame.body }, stream, { remote: this.remote, signal: stream.signal, certificate: this.certificate });
  }

  private respond(stream: number, call: ServerCall, response: Message): void {
    if (this.calls.get(stream) !== call) return; // cancelled: the caller is no longer listening
    this.calls.delete(stream);
    if (this.dead) return;
    if (FRAME_PREFIX + headerBound(response.header) + response.body.length <= this.maxFrameSize) {
      if (!this.writer.pushHeader(FrameType.Response, stream, response.header, response.body)) {
        const problem = headerProblem(response.header, this.limits);
        this.log.warn("response header cannot be sent", { remote: this.remote, problem });
        this.respondError(stream, MicroError.internal(SERVER_ID, `response not sent: ${problem}`));
      }
    } else {
      const size = FRAME_PREFIX + Buffer.byteLength(encodeHeader(response.header)) + response.body.length;
      this.log.warn("response too large", { remote: this.remote, size });
      this.respondError(stream, MicroError.tooLarge(SERVER_ID, `response of ${size} bytes exceeds the maximum frame size of ${this.maxFrameSize} bytes`));
    }
    this.endIfIdle();
  }

  private respondError(stream: number, err: MicroError): void {
    this.writer.push(FrameType.Response, stream, encodeHeader({ [MicroHeader.Error]: err.toString() }), EMPTY);
  }

  /**
   * The client broke the protocol: tell it why (a GoAway carrying the error, which a ts-micro
   * client logs) and close the connection.
   */
  private protocolError(reason: string): void {
    if (this.dead) return;
    const err = new MicroError(ErrorId.transport, 400, `protocol error: ${reason}`);
    this.writer.push(FrameType.GoAway, 0, encodeHeader({ [MicroHeader.Error]: err.toString() }), EMPTY);
    this.writer.flush();
    this.close(`protocol error: ${reason}`, "warn", true);
  }

  /** A limit was hit: close, with one log line per `kind` per interval. */
  private limitClose(reason: string, kind: string): void {
    this.close(reason, "warn", false, kind);
  }

  /**
   * Ends the connection and everything on it. `linger`: let what was written reach the client
   * first (a protocol error's GoAway), for at most a second, since a peer that stopped reading
   * would hold the socket open.
   */
  private close(reason: string, level: "debug" | "warn", linger = false, kind = reason): void {
    if (this.dead) return;
    this.dead = true;
    this.reader.release();
    this.onClosed(this);
    if (level === "warn") this.context.limitLog.warn("closing mux connection", { remote: this.remote, reason }, kind);
    for (const call of this.calls.values()) call.cancel(`connection closed: ${reason}`);
    this.calls.clear();
    for (const stream of [...this.streams.values()]) stream.lost(`connection closed: ${reason}`);
    if (!linger) return void this.socket.destroy();
    this.socket.pause();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
  }
}
