/**
 * The client end of a mux connection: unary calls and streams multiplexed on one socket, each
 * call an odd stream id.
 *
 * A peer that stops answering without closing the connection (a frozen process, a partition)
 * is found by pings: while calls are in flight and nothing has arrived for a ping interval, the
 * client pings; no pong within the probe timeout fails the connection and its calls with
 * ConnectionLostError, as a dropped connection does. A busy connection never pings: its replies
 * show the peer is alive.
 *
 * The client also pings once at the start, asking whether the server takes header references;
 * once it has said so, a large header value is sent once and then by reference (header-refs.ts).
 */
import type net from "node:net";
import { ErrorId, MicroError } from "../../errors/errors.js";
import type { Logger } from "../../logger/logger.js";
import { MicroHeader } from "../../metadata/headers.js";
import { FRAME_PREFIX, type Frame, FrameFlag, FrameType, frameSize, PREFACE } from "../framing/frame.js";
import { FrameReader } from "../framing/frame-reader.js";
import { FrameWriter } from "../framing/frame-writer.js";
import { FramedStream, type StreamOutput } from "../framing/framed-stream.js";
import { encodeHeader, headerBound, headerProblem } from "../framing/header-block.js";
import { IdTable } from "../framing/id-table.js";
import { type PendingCall, PendingCalls } from "../framing/pending-calls.js";
import { type CallOptions, type ClientConnection, ConnectionLostError, type Message, NotDeliveredError, type TransportStream } from "../transport.js";
import { ClientHeaderRefs, FEATURES_HEADER, HEADER_REFS_FEATURE, HEADER_REFS_OFFER, reservedHeaderProblem } from "./header-refs.js";
import type { MuxLimits } from "./options.js";
import { frameProblem } from "./protocol.js";

const EMPTY = Buffer.alloc(0);
const CLIENT_ID = ErrorId.client;
/** The first ping's header: asks the server for header references (an older server ignores it). */
const HELLO = encodeHeader({ [FEATURES_HEADER]: HEADER_REFS_FEATURE });

export class MuxClientConnection implements ClientConnection, StreamOutput {
  private readonly calls = new PendingCalls(
    (stream, err) => this.cancel(stream, err),
    () => this.probe(),
  );
  private readonly streams = new IdTable<FramedStream>();
  private readonly writer: FrameWriter;
  private readonly maxFrameSize: number;
  /** StreamOutput: what a stream message may take of a frame. */
  readonly maxMessageSize: number;
  /** Set by the transport when TLS checks service names (see ClientConnection). */
  verifyService: ((service: string) => void) | undefined = undefined;
  private nextStream = 1;
  private goingAway = false;
  private dead = false;
  /** The pending ping's deadline, and when it falls. */
  private probeTimer: NodeJS.Timeout | undefined;
  private probeDue = 0;
  private readonly reader: FrameReader;
  /** Checks the peer while calls wait on it (see the header comment). */
  private readonly health: NodeJS.Timeout | undefined;
  /** Frames received as of the last health check. */
  private framesAtCheck = 0;
  /** Values this connection has set on the server, once it has offered header references. */
  private refs: ClientHeaderRefs | undefined;
  /** This connection asked the server for header references (its first ping). */
  private readonly askedForRefs: boolean;

  /**
   * @param readsInto set when the socket was opened with `onread` (see SocketReads): its reads
   *   come to `receive` in a buffer that the next read overwrites, not as 'data' events.
   */
  constructor(
    private readonly socket: net.Socket,
    private readonly address: string,
    private readonly limits: MuxLimits,
    private readonly log: Logger,
    readsInto?: SocketReads,
  ) {
    this.maxFrameSize = limits.maxFrameSize;
    this.maxMessageSize = limits.maxFrameSize - FRAME_PREFIX;
    // Calls come from anywhere (HTTP requests, broker messages, timers), one I/O callback each:
    // while others are in flight, batching over the event loop's turn, not the tick, writes them
    // together; a lone call (concurrency 1) goes out at the end of its tick (see FrameWriter).
    this.writer = new FrameWriter(
      (chunk) => socket.write(chunk),
      limits,
      undefined,
      () => this.calls.size + this.streams.size > 1,
    );
    socket.write(PREFACE);
    this.askedForRefs = limits.headerRefSlots > 0;
    if (this.askedForRefs) this.writer.push(FrameType.Ping, 0, HELLO, EMPTY);
    this.reader = new FrameReader(limits, (frame) => this.onFrame(frame), undefined, readsInto !== undefined);
    if (limits.pingInterval > 0) this.health = setInterval(this.checkHealth, limits.pingInterval).unref();
    if (readsInto) readsInto.attach(this);
    else socket.on("data", (chunk: Buffer) => this.receive(chunk, chunk.length));
    socket.on("error", (err) => this.fail(`connection to ${address} failed: ${err.message}`));
    socket.on("close", () => this.fail(`connection to ${address} closed`));
  }

  get closed(): boolean {
    return this.dead || this.goingAway;
  }

  /** Bytes `chunk[0, length)` from the socket. */
  receive(chunk: Buffer, length: number): void {
    if (this.dead) return;
    try {
      const problem = this.reader.push(chunk, length);
      if (problem) this.protocolError(problem);
    } catch (err) {
      this.log.error("mux connection failed on its input", { address: this.address, err: err instanceof Error ? err.stack : String(err) });
      this.fail(`internal error reading from ${this.address}`);
    }
  }

  get pending(): number {
    return this.calls.size + this.streams.size;
  }

  stream(request: Message, options: CallOptions = {}): TransportStream {
    const id = this.nextId();
    const stream = new FramedStream(id, this, this.limits.streamWindow);
    if (this.dead || this.goingAway) {
      stream.lost(`connection to ${this.address} is closed`);
      return stream;
    }
    if (!this.pushRequest(id, request, FrameFlag.Stream)) {
      stream.lost(`stream not opened: ${this.unsendable(request.header)}`, 400);
      return stream;
    }
    this.streams.set(id, stream);
    stream.follow(options);
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
      if (this.pushRequest(stream, request, 0)) return;
      this.calls.settle(stream);
      reject(new MicroError(CLIENT_ID, 400, `request not sent: ${this.unsendable(request.header)}`));
    });
  }

  /**
   * Writes a Request frame, its large header values by reference where the server allows it.
   * False when the header cannot be sent at all (headerProblem says why).
   */
  private pushRequest(stream: number, request: Message, flags: number): boolean {
    if (this.askedForRefs && reservedHeaderProblem(request.header) !== undefined) return false;
    const refs = this.refs;
    const swap = refs?.plan(request.header);
    if (swap === undefined) return this.writer.pushHeader(FrameType.Request, stream, request.header, request.body, flags);
    if (this.writer.pushHeader(FrameType.Request, stream, request.header, request.body, flags, swap)) return true;
    // At a header limit only because of the reference headers: send it in full.
    refs?.unsent();
    return this.writer.pushHeader(FrameType.Request, stream, request.header, request.body, flags);
  }

  /** Why pushRequest refused `header`. */
  private unsendable(header: Message["header"]): string | undefined {
    return (this.askedForRefs ? reservedHeaderProblem(header) : undefined) ?? headerProblem(header, this.limits);
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

  /** Pings when calls are waiting and nothing has arrived since the last check. */
  private readonly checkHealth = (): void => {
    const frames = this.reader.frames;
    const quiet = frames === this.framesAtCheck;
    this.framesAtCheck = frames;
    if (quiet && this.calls.size + this.streams.size > 0) this.probe();
  };

  /**
   * Pings the peer; a connection on which nothing at all arrives within `timeout` ms (default
   * the probe timeout) is dropped, failing its calls with ConnectionLostError. Any frame counts: a
   * peer busy sending replies may answer the ping late. The client also calls this, with a short
   * timeout, for a node that has left calls unanswered while other nodes answered.
   */
  probe(timeout: number = this.limits.probeTimeout): void {
    if (this.dead) return;
    const due = Date.now() + timeout;
    if (this.probeTimer) {
      if (due >= this.probeDue) return; // a ping already waits, with an earlier deadline
      clearTimeout(this.probeTimer);
    }
    const frames = this.reader.frames;
    this.writer.push(FrameType.Ping, 0, "", EMPTY);
    this.probeDue = due;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      if (this.reader.frames === frames) this.fail(`${this.address} did not answer a ping within ${timeout} ms`);
    }, timeout);
    this.probeTimer.unref();
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
    if (this.dead) return;
    const problem = frameProblem(frame, "server");
    if (problem) return this.protocolError(problem);
    switch (frame.type) {
      case FrameType.Response:
        this.settle(frame.stream)?.resolve(frame); // a Frame is a Message (header and body)
        break;
      case FrameType.Refused:
        this.settle(frame.stream)?.reject(
          new NotDeliveredError(`${this.address} refused the call: ${frame.header[MicroHeader.Error] ?? "server stopping"}`, this.address),
        );
        this.streams.get(frame.stream)?.lost(`${this.address} refused the stream: ${frame.header[MicroHeader.Error] ?? "server stopping"}`);
        break;
      case FrameType.GoAway:
        // With an error, the server is closing the connection over a protocol error of ours.
        if (frame.header[MicroHeader.Error] !== undefined)
          return this.protocolError(`${this.address} closed the connection: ${frame.header[MicroHeader.Error]}`);
        this.goingAway = true;
        this.endIfIdle();
        break;
      case FrameType.Ping:
        this.writer.push(FrameType.Pong, frame.stream, "", EMPTY);
        break;
      case FrameType.Pong: {
        clearTimeout(this.probeTimer);
        this.probeTimer = undefined;
        const offer = frame.header[HEADER_REFS_OFFER];
        if (offer !== undefined && this.refs === undefined && this.askedForRefs) this.refs = ClientHeaderRefs.fromOffer(offer);
        break;
      }
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

  private protocolError(reason: string): void {
    this.log.warn("closing mux connection", { address: this.address, reason: `protocol error: ${reason}` });
    this.fail(`protocol error on the connection to ${this.address}: ${reason}`);
  }

  private fail(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    clearTimeout(this.probeTimer);
    clearInterval(this.health);
    this.socket.destroy();
    if (this.calls.size > 0) this.log.debug("mux connection lost with calls in flight", { address: this.address, reason, calls: this.calls.size });
    this.calls.failAll(new ConnectionLostError(reason, this.address));
    for (const stream of [...this.streams.values()]) stream.lost(reason);
  }
}

/** What SocketReads hands a socket's reads to: bytes `chunk[0, length)`, valid during the call only. */
interface ReadTarget {
  receive(chunk: Buffer, length: number): void;
}

/**
 * A plain TCP socket's reads without the stream machinery: `net.connect`'s `onread` reads into
 * one buffer and calls back, instead of a new Buffer, a 'data' event and a tick (with Node's
 * bookkeeping for it) per read. The buffer is shared by every socket opened this way: a read is
 * consumed before the next one lands (the reader copies out what it keeps).
 */
export class SocketReads {
  private connection: ReadTarget | undefined;
  /** Bytes read before a connection took the socket (copies: the buffer is reused). */
  private early: Buffer[] = [];

  /** The `onread` option for net.connect. */
  readonly onread = {
    buffer: sharedReadBuffer(),
    // True: keep reading (false would pause the socket; the connection has no backpressure on input).
    callback: (length: number, buffer: Uint8Array): boolean => {
      if (this.connection) this.connection.receive(buffer as Buffer, length);
      else this.early.push(Buffer.from(buffer.subarray(0, length)));
      return true;
    },
  };

  /**
   * Sends the socket's reads to `connection` from now on. Node starts reading only after the
   * 'connect' listeners, where the connection is made, have run; bytes that came earlier all the
   * same are handed over first.
   */
  attach(connection: ReadTarget): void {
    this.connection = connection;
    for (const chunk of this.early) connection.receive(chunk, chunk.length);
    this.early = [];
  }
}

let readBuffer: Buffer | undefined;

/** The buffer every SocketReads reads into, made on first use. */
function sharedReadBuffer(): Buffer {
  readBuffer ??= Buffer.allocUnsafe(64 * 1024);
  return readBuffer;
}
