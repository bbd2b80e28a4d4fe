/**
 * `mux`, the default transport: one TCP connection carries any number of concurrent calls as
 * length-prefixed frames (see frame.ts), written in batches. Garbage or oversize input closes only
 * the connection it arrived on, with a logged reason.
 */
import net from "node:net";
import { MicroError } from "../../errors/errors.js";
import { logger, type Logger } from "../../logger/logger.js";
import {
  type CallOptions,
  type ClientConnection,
  ConnectionLostError,
  type IncomingCall,
  type Listener,
  type ListenOptions,
  type Message,
  NotDeliveredError,
  type RequestHandler,
  type StreamHandler,
  type Transport,
  type TransportStream,
} from "../transport.js";
import { DEFAULT_MAX_FRAME_SIZE, encodeHeader, type Frame, FrameFlag, FRAME_PREFIX, FrameReader, frameSize, FrameType, FrameWriter, headerBound, PREFACE } from "./frame.js";
import { DEFAULT_STREAM_WINDOW, MuxStream, type StreamOutput } from "./stream.js";
import { IdTable } from "../id-table.js";
import { type PendingCall, PendingCalls } from "../pending-calls.js";
import { joinHostPort, listenTcp, type ServedConnection, splitHostPort } from "../tcp.js";

export { joinHostPort, splitHostPort };

export interface MuxOptions {
  /** Largest frame accepted or sent, in bytes (default 4 MiB). */
  maxFrameSize?: number;
  /** Bytes of stream messages a receiver may have unread, per stream and direction (default 1 MiB). */
  streamWindow?: number;
  /** Milliseconds to wait for a TCP connection (default 5 s). */
  dialTimeout?: number;
  /**
   * After a call times out, the client pings the connection; no answer within this many ms means
   * the peer is gone (e.g. a network partition, where no reset ever arrives) and the connection
   * is dropped so later calls go elsewhere (default 2 s).
   */
  probeTimeout?: number;
  logger?: Logger;
  /**
   * Called with a connection whose first bytes are not the mux preface. Returns the connection
   * when it took the socket over (the HTTP transport uses this to answer Go Micro clients on the
   * same port); the listener then stops and drops it through that handle.
   */
  sniff?: (socket: net.Socket, firstBytes: Buffer, options: ListenOptions) => SniffedConnection | undefined;
}

/** A connection on a mux port served by something else (see MuxOptions.sniff). */
export type SniffedConnection = ServedConnection;

const EMPTY = Buffer.alloc(0);
const CLIENT_ID = "go.micro.client";

export class MuxTransport implements Transport {
  readonly name = "mux";
  readonly maxFrameSize: number;
  readonly streamWindow: number;
  readonly probeTimeout: number;
  private readonly dialTimeout: number;
  private readonly log: Logger;

  constructor(private readonly options: MuxOptions = {}) {
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.streamWindow = options.streamWindow ?? DEFAULT_STREAM_WINDOW;
    this.dialTimeout = options.dialTimeout ?? 5_000;
    this.probeTimeout = options.probeTimeout ?? 2_000;
    this.log = options.logger ?? logger();
  }

  listen(address: string, options: ListenOptions): Promise<Listener> {
    return listenTcp(
      address,
      (socket) => {
        socket.setKeepAlive(true, KEEPALIVE_MS);
        return new ServerConnection(socket, options, this, this.log, this.options.sniff);
      },
      this.log,
      "mux",
    );
  }

  dial(address: string, options: { timeout?: number } = {}): Promise<ClientConnection> {
    const { host, port } = splitHostPort(address);
    const timeout = options.timeout ?? this.dialTimeout;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: host || "127.0.0.1", port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new NotDeliveredError(`dial ${address}: timed out after ${timeout} ms`, address));
      }, timeout);
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(new NotDeliveredError(`dial ${address}: ${err.message}`, address));
      });
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        socket.setKeepAlive(true, KEEPALIVE_MS);
        resolve(new MuxClientConnection(socket, address, this, this.log));
      });
    });
  }
}

/** Limits shared by both ends of a mux connection. */
interface Limits {
  readonly maxFrameSize: number;
  readonly streamWindow: number;
  readonly probeTimeout: number;
}

/** TCP keepalive on every mux socket: the kernel notices dead peers on idle connections. */
const KEEPALIVE_MS = 15_000;

class MuxClientConnection implements ClientConnection, StreamOutput {
  private readonly calls = new PendingCalls((stream, err) => this.cancel(stream, err), () => this.checkAlive());
  private readonly streams = new IdTable<MuxStream>();
  private readonly writer: FrameWriter;
  readonly maxFrameSize: number;
  private nextStream = 1;
  private goingAway = false;
  private dead = false;
  private probe: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly address: string,
    private readonly limits: Limits,
    private readonly log: Logger,
  ) {
    this.maxFrameSize = limits.maxFrameSize;
    this.writer = new FrameWriter((chunk) => socket.write(chunk));
    socket.write(PREFACE);
    const reader = new FrameReader(this.maxFrameSize, (frame) => this.onFrame(frame));
    socket.on("data", (chunk: Buffer) => {
      const problem = reader.push(chunk);
      if (problem) this.fail(`bad frame from ${address}: ${problem}`);
    });
    socket.on("error", (err) => this.fail(`connection to ${address} failed: ${err.message}`));
    socket.on("close", () => this.fail(`connection to ${address} closed`));
  }

  get closed(): boolean {
    return this.dead || this.goingAway;
  }

  get pending(): number {
    return this.calls.size + this.streams.size;
  }

  stream(request: Message, options: CallOptions = {}): TransportStream {
    const id = this.nextId();
    const stream = new MuxStream(id, this, this.limits.streamWindow);
    if (this.dead || this.goingAway) {
      stream.lost(`connection to ${this.address} is closed`);
      return stream;
    }
    this.streams.set(id, stream);
    stream.follow(options);
    this.writer.pushMessage(FrameType.Request, id, request, FrameFlag.Stream);
    return stream;
  }

  /** StreamOutput: streams write through the connection's batching writer. */
  frame(type: FrameType, stream: number, headerText: string, body: Uint8Array): void {
    if (!this.dead) this.writer.push(type, stream, headerText, body);
  }

  /** StreamOutput: a finished stream is forgotten. */
  streamClosed(stream: number): void {
    this.streams.delete(stream);
    this.endIfIdle();
  }

  call(request: Message, options: CallOptions = {}): Promise<Message> {
    if (this.dead || this.goingAway) {
      return Promise.reject(new NotDeliveredError(`connection to ${this.address} is closed`, this.address));
    }
    if (FRAME_PREFIX + headerBound(request.header) + request.body.length > this.maxFrameSize) {
      const size = frameSize(encodeHeader(request.header), request.body);
      if (size > this.maxFrameSize) {
        return Promise.reject(MicroError.tooLarge(CLIENT_ID, `request of ${size} bytes exceeds the maximum frame size of ${this.maxFrameSize} bytes`));
      }
    }
    const stream = this.nextId();
    return new Promise<Message>((resolve, reject) => {
      const refused = this.calls.add(stream, options, resolve, reject);
      if (refused) return reject(refused);
      this.writer.pushHeader(FrameType.Request, stream, request.header, request.body);
    });
  }

  close(): void {
    this.goingAway = true;
    this.endIfIdle();
  }

  private nextId(): number {
    const id = this.nextStream;
    this.nextStream = (this.nextStream + 2) >>> 0 || 1;
    return id;
  }

  /** After a GoAway or close(), the socket ends once nothing is in flight. */
  private endIfIdle(): void {
    if (this.goingAway && !this.dead && this.calls.size === 0 && this.streams.size === 0) this.socket.end();
  }

  /** Pings the peer once; a connection that stays silent is dropped (see MuxOptions.probeTimeout). */
  private checkAlive(): void {
    if (this.probe || this.dead) return;
    this.writer.push(FrameType.Ping, 0, "", EMPTY);
    this.probe = setTimeout(() => this.fail(`${this.address} did not answer a ping within ${this.limits.probeTimeout} ms`), this.limits.probeTimeout);
    this.probe.unref();
  }

  private cancel(stream: number, err: Error): void {
    const pending = this.settle(stream);
    if (!pending) return;
    if (!this.dead) this.writer.push(FrameType.Cancel, stream, "", EMPTY);
    pending.reject(err);
  }

  private settle(stream: number): PendingCall | undefined {
    const pending = this.calls.settle(stream);
    if (pending) this.endIfIdle();
    return pending;
  }

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.Response:
        this.settle(frame.stream)?.resolve(frame); // a Frame is a Message (header and body)
        break;
      case FrameType.Refused:
        this.settle(frame.stream)?.reject(new NotDeliveredError(`${this.address} refused the call: ${frame.header["Micro-Error"] ?? "server stopping"}`, this.address));
        this.streams.get(frame.stream)?.lost(`${this.address} refused the stream: ${frame.header["Micro-Error"] ?? "server stopping"}`);
        break;
      case FrameType.GoAway:
        this.goingAway = true;
        this.endIfIdle();
        break;
      case FrameType.Ping:
        this.writer.push(FrameType.Pong, frame.stream, "", EMPTY);
        break;
      case FrameType.Pong:
        clearTimeout(this.probe);
        this.probe = undefined;
        break;
      case FrameType.Data:
      case FrameType.End:
      case FrameType.Window:
      case FrameType.Cancel:
        this.streams.get(frame.stream)?.onFrame(frame);
        break;
      default:
        break;
    }
  }

  private fail(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    clearTimeout(this.probe);
    this.socket.destroy();
    if (this.calls.size > 0) this.log.debug("mux connection lost with calls in flight", { address: this.address, reason, calls: this.calls.size });
    this.calls.failAll(new ConnectionLostError(reason, this.address));
    for (const stream of [...this.streams.values()]) stream.lost(reason);
  }
}

/** The server's state for one incoming call. The AbortSignal is made only if someone asks for it. */
class ServerCall implements IncomingCall {
  private controller: AbortController | undefined;
  cancelled = false;

  constructor(readonly remote: string) {}

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

class ServerConnection implements StreamOutput {
  private readonly calls = new IdTable<ServerCall>();
  private readonly streams = new IdTable<MuxStream>();
  private readonly handler: RequestHandler;
  private readonly streamHandler: StreamHandler | undefined;
  readonly maxFrameSize: number;
  private readonly writer: FrameWriter;
  private readonly reader: FrameReader;
  private readonly remote: string;
  private sawPreface = false;
  private goneAway = false;
  private dead = false;

  constructor(
    private readonly socket: net.Socket,
    options: ListenOptions,
    private readonly limits: Limits,
    private readonly log: Logger,
    private readonly sniff?: MuxOptions["sniff"],
  ) {
    this.listenOptions = options;
    this.handler = options.handler;
    this.streamHandler = options.streamHandler;
    this.maxFrameSize = limits.maxFrameSize;
    this.remote = joinHostPort(socket.remoteAddress ?? "?", socket.remotePort ?? 0);
    this.writer = new FrameWriter((chunk) => {
      if (!this.dead) socket.write(chunk);
    });
    this.reader = new FrameReader(this.maxFrameSize, (frame) => this.onFrame(frame));
    socket.on("data", this.onData);
    socket.on("error", (err) => this.close(`socket error: ${err.message}`, "debug"));
    socket.on("close", () => this.close("closed by peer", "debug"));
  }

  private readonly onData = (chunk: Buffer): void => {
    let data = chunk;
    if (!this.sawPreface) {
      const head = this.pendingPreface ? Buffer.concat([this.pendingPreface, chunk]) : chunk;
      if (head.length < PREFACE.length && PREFACE.subarray(0, head.length).equals(head)) {
        this.pendingPreface = head; // wait for the rest of the preface
        return;
      }
      this.pendingPreface = undefined;
      if (!head.subarray(0, PREFACE.length).equals(PREFACE)) {
        this.socket.off("data", this.onData);
        this.handedOff = this.sniff?.(this.socket, head, this.listenOptions);
        if (this.handedOff) return;
        return this.close(`not a mux client (first bytes ${JSON.stringify(head.subarray(0, 16).toString("latin1"))})`, "warn");
      }
      this.sawPreface = true;
      data = head.subarray(PREFACE.length);
      if (data.length === 0) return;
    }
    const problem = this.reader.push(data);
    if (problem) this.close(problem, "warn");
  };
  private pendingPreface: Buffer | undefined;
  private readonly listenOptions: ListenOptions;
  private handedOff: SniffedConnection | undefined;

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
        return this.writer.push(FrameType.Pong, frame.stream, "", EMPTY);
      default:
        return; // Pong needs nothing; the others only flow server → client
    }
  }

  private onRequest(frame: Frame): void {
    if (this.goneAway) {
      this.writer.push(FrameType.Refused, frame.stream, encodeHeader({ "Micro-Error": "server stopping" }), EMPTY);
      return;
    }
    if (this.calls.has(frame.stream) || this.streams.has(frame.stream)) return this.close(`stream id ${frame.stream} reused while in flight`, "warn");
    if (frame.flags & FrameFlag.Stream) return this.onStream(frame);
    const call = new ServerCall(this.remote);
    this.calls.set(frame.stream, call);
    this.handler(frame, call).then(
      (response) => this.respond(frame.stream, call, response),
      (err: unknown) => {
        // The RPC layer turns handler errors into Micro-Error responses; reaching here is a bug.
        this.log.error("request handler failed", { err: err instanceof Error ? err.stack : String(err) });
        this.respond(frame.stream, call, { header: { "Micro-Error": MicroError.internal("go.micro.server", "internal server error").toString() }, body: EMPTY });
      },
    );
  }

  private onStream(frame: Frame): void {
    if (!this.streamHandler) {
      const err = new MicroError("go.micro.server", 501, "this server does not take streams");
      this.writer.push(FrameType.End, frame.stream, encodeHeader({ "Micro-Error": err.toString() }), EMPTY);
      return;
    }
    const stream = new MuxStream(frame.stream, this, this.limits.streamWindow);
    this.streams.set(frame.stream, stream);
    this.streamHandler({ header: frame.header, body: frame.body }, stream, { remote: this.remote, signal: stream.signal });
  }

  private respond(stream: number, call: ServerCall, response: Message): void {
    if (this.calls.get(stream) !== call) return; // cancelled: the caller is no longer listening
    this.calls.delete(stream);
    if (this.dead) return;
    const headerText = encodeHeader(response.header);
    const size = frameSize(headerText, response.body);
    if (size > this.maxFrameSize) {
      const err = MicroError.tooLarge("go.micro.server", `response of ${size} bytes exceeds the maximum frame size of ${this.maxFrameSize} bytes`);
      this.log.warn("response too large", { remote: this.remote, size });
      this.writer.push(FrameType.Response, stream, encodeHeader({ "Micro-Error": err.toString() }), EMPTY);
    } else {
      this.writer.push(FrameType.Response, stream, headerText, response.body);
    }
    this.endIfIdle();
  }

  private close(reason: string, level: "debug" | "warn"): void {
    if (this.dead) return;
    this.dead = true;
    if (level === "warn") this.log.warn("closing mux connection", { remote: this.remote, reason });
    for (const call of this.calls.values()) call.cancel(`connection closed: ${reason}`);
    this.calls.clear();
    for (const stream of [...this.streams.values()]) stream.lost(`connection closed: ${reason}`);
    this.socket.destroy();
  }
}
