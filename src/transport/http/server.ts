/**
 * The server side of Go Micro's HTTP transport for one TCP connection, as Go Micro serves a
 * hijacked connection: HTTP/1.1 requests are read straight off the socket, each is one message;
 * each reply is one `200 OK` response echoing the request's headers. Requests carrying
 * `Micro-Stream` belong to a stream (the first one opens it); others are unary calls, answered in
 * the order they arrived (HTTP pipelining), though handled concurrently.
 *
 * Bad input gets a 400/405/408/413/431 with `Connection: close` and the connection ends; the
 * server keeps serving everyone else. A request with `Connection: close` is answered, then the
 * connection ends, as Go Micro's ServeConn does.
 *
 * What one peer can make the server hold is bounded (see ServerSettings): a request head and a
 * body must arrive within their timeouts once started, an idle connection is closed, at most
 * `maxCallsPerConnection` pipelined calls run at once, and a peer that does not read its replies
 * stops being read (it cannot queue more work) and is dropped past `maxWriteBuffer` bytes or
 * `writeTimeout` ms.
 */

import type net from "node:net";
import { ErrorId, MicroError } from "../../errors/errors.js";
import type { Logger } from "../../logger/logger.js";
import type { RateLimitedLog } from "../../logger/rate-limited.js";
import type { PeerCertificate } from "../../metadata/context.js";
import { MicroHeader } from "../../metadata/headers.js";
import { answerCall } from "../answer.js";
import type { ServedConnection } from "../tcp.js";
import { verifiedPeerCertificate } from "../tls.js";
import type { Header, IncomingCall, ListenOptions, Message } from "../transport.js";
import { canonicalHeader, headerLines } from "./headers.js";
import { type HttpMessage, HttpParser, type ParsePhase, type ParserLimits } from "./parser.js";
import { HttpStream, type StreamWire } from "./stream.js";

export interface ServerSettings extends ParserLimits {
  /** Bytes a stream's reader may fall behind before the socket stops being read. */
  streamWindow: number;
  /** Milliseconds from a request's first byte to the end of its head (slowloris guard). */
  headerTimeout: number;
  /** Milliseconds from the end of a request's head to the end of its body. */
  bodyTimeout: number;
  /** Milliseconds a connection with nothing in flight may stay open without a request. */
  idleTimeout: number;
  /** Pipelined calls handled at once on one connection; past it the connection is not read. */
  maxCallsPerConnection: number;
  /** Bytes of replies a connection may leave unsent before it is dropped. */
  maxWriteBuffer: number;
  /** Milliseconds a connection may leave its replies unread before it is dropped. */
  writeTimeout: number;
  /** Bytes of requests held at once by all connections sharing these settings (see RequestBudget). */
  budget: RequestBudget;
  logger: Logger;
  /** Limit hits and bad input: at most one line per kind per interval. */
  limitLog: RateLimitedLog;
}

/**
 * What the connections of one transport hold of their requests, together: bytes received of
 * requests not yet complete, and bodies of calls not yet answered. Timeouts bound how long one
 * connection holds bytes and maxConnections how many connections there are, but not their
 * product: without this, many connections each sending most of a large body would fill memory.
 */
export class RequestBudget {
  used = 0;
  constructor(readonly limit: number) {}
}

export type { ServedConnection };

/** Headers that describe one HTTP message's framing and are never echoed. */
const HOP_BY_HOP = new Set(["Content-Length", "Transfer-Encoding", "Trailer", "Connection", "Keep-Alive", "Expect", "Host", "Upgrade"]);
/** Go Micro's server sets these from the request on every reply, and again with an `X-` prefix. */
const MIRRORED = [MicroHeader.Id, MicroHeader.Service, MicroHeader.Method, MicroHeader.Endpoint];
const X_ERROR = `X-${MicroHeader.Error}`;
const X_STREAM = `X-${MicroHeader.Stream}`;
const EMPTY = new Uint8Array(0);
/** Milliseconds a connection we ended may wait for its peer to close before it is destroyed. */
const LINGER = 2_000;

/** One unary call, in arrival order; its response waits until the ones before it are written. */
interface Slot {
  request: HttpMessage;
  response?: Message;
  controller?: AbortController;
}

/** What the connection's one timer is waiting for (see `rearm`). */
type Wait = ParsePhase | "write" | "none";

class Call implements IncomingCall {
  constructor(
    readonly remote: string,
    private readonly slot: Slot,
    readonly certificate: PeerCertificate | undefined,
  ) {}

  get signal(): AbortSignal {
    this.slot.controller ??= new AbortController();
    return this.slot.controller.signal;
  }
}

export function serveHttpConnection(socket: net.Socket, firstBytes: Buffer, options: ListenOptions, settings: ServerSettings): ServedConnection {
  const connection = new HttpServerConnection(socket, options, settings);
  if (firstBytes.length > 0) connection.onData(firstBytes);
  else connection.rearm();
  return connection;
}

class HttpServerConnection implements ServedConnection {
  private readonly parser: HttpParser;
  private readonly slots: Slot[] = [];
  private readonly streams = new Map<string, HttpStream>();
  private readonly remote: string;
  /** The client's verified certificate, on an mTLS connection. */
  private readonly certificate: PeerCertificate | undefined;
  private closing = false;
  private dead = false;
  /** Streams whose reader fell behind: the socket is not read while any is. */
  private pausedStreams = 0;
  private reading = true;
  /** The wait the timer is for, since which message, and when it runs out. */
  private waiting: Wait = "none";
  private waitingSince = -1;
  private deadline = Infinity;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  /** Bytes of calls not yet answered, and what this connection counts against the budget. */
  private callBytes = 0;
  private charged = 0;
  private chargedPartial = 0;

  constructor(
    private readonly socket: net.Socket,
    private readonly options: ListenOptions,
    private readonly settings: ServerSettings,
  ) {
    this.remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    this.certificate = verifiedPeerCertificate(socket);
    this.parser = new HttpParser("request", settings, (message) => this.onRequest(message));
    socket.setNoDelay(true);
    socket.on("data", this.onData);
    socket.on("drain", () => this.guard(() => this.flowChanged()));
    socket.on("error", () => this.teardown("socket error"));
    socket.on("close", () => this.teardown("closed by the client"));
    socket.on("end", () => this.guard(() => this.onEnd()));
  }

  readonly onData = (chunk: Buffer): void => {
    this.guard(() => {
      const problem = this.parser.push(chunk);
      if (problem) return this.reject(problem.status, problem.reason);
      this.flowChanged();
    });
  };

  goAway(): void {
    this.closing = true;
    this.guard(() => this.endIfIdle());
  }

  destroy(): void {
    this.teardown("server shut down");
  }

  private onRequest(request: HttpMessage): void {
    if (request.method !== "POST") return this.reject(405, `method ${request.method} not allowed: Go Micro's transport takes POST`);
    if (request.header.Expect?.toLowerCase() === "100-continue") this.socket.write("HTTP/1.1 100 Continue\r\n\r\n");
    if (wantsClose(request)) {
      this.closing = true;
      this.parser.stop();
    }
    const message: Message = { header: request.header, body: request.body };
    const streamId = request.header[MicroHeader.Stream] ?? request.header[X_STREAM];
    if (streamId !== undefined) return this.onStreamMessage(streamId, request, message);
    this.onCall(request, message);
  }

  private onCall(request: HttpMessage, message: Message): void {
    const slot: Slot = { request };
    this.slots.push(slot);
    this.callBytes += request.body.length;
    if (this.slots.length >= this.settings.maxCallsPerConnection) this.parser.hold();
    answerCall(
      this.options.handler,
      message,
      new Call(this.remote, slot, this.certificate),
      (response) => this.guard(() => this.answer(slot, response)),
      this.settings.logger,
    );
  }

  /** Records a finished call and writes every response that is now next in line. */
  private answer(slot: Slot, response: Message): void {
    if (this.dead) return;
    slot.response = response;
    while (this.slots.length > 0 && this.slots[0].response) {
      const done = this.slots.shift()!;
      this.callBytes -= done.request.body.length;
      this.write(done.request.header, done.response!);
    }
    this.flowChanged();
  }

  private onStreamMessage(id: string, request: HttpMessage, message: Message): void {
    const stream = this.streams.get(id);
    if (stream) return stream.deliver(message);
    // A client's EOS for a stream that has already finished needs nothing more.
    if (request.header[MicroHeader.Error] !== undefined) return;
    if (!this.options.streamHandler) {
      const err = new MicroError(ErrorId.server, 501, "this server does not take streams");
      this.write(request.header, { header: { [MicroHeader.Error]: err.toString() }, body: EMPTY });
      return;
    }
    const opened = new HttpStream(this.streamWire(id, request.header), this.settings.streamWindow);
    this.streams.set(id, opened);
    // The opening message addresses the stream; Go Micro's server discards its body.
    try {
      this.options.streamHandler(message, opened, { remote: this.remote, signal: opened.signal, certificate: this.certificate });
    } catch (err) {
      this.settings.logger.error("stream handler failed", { err: err instanceof Error ? err.stack : String(err) });
      opened.end(MicroError.internal(ErrorId.server, "internal server error").toString());
    }
  }

  private streamWire(id: string, opening: Header): StreamWire {
    let paused = false;
    return {
      write: (message) => this.writeAndWait(opening, message),
      pause: () => {
        if (paused) return;
        paused = true;
        this.pausedStreams++;
        this.flowChanged();
      },
      resume: () => {
        if (!paused) return;
        paused = false;
        this.pausedStreams--;
        this.guard(() => this.flowChanged());
      },
      abort: () => this.teardown(`stream ${id} cancelled by the server`),
      finished: () => {
        if (paused) this.pausedStreams--;
        paused = false;
        this.streams.delete(id);
        this.guard(() => this.flowChanged());
      },
    };
  }

  private writeAndWait(request: Header, message: Message): Promise<void> {
    if (this.dead) return Promise.reject(new MicroError(ErrorId.transport, 503, "connection closed"));
    if (this.write(request, message)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        this.socket.off("close", onClose);
        resolve();
      };
      const onClose = (): void => {
        this.socket.off("drain", onDrain);
        reject(new MicroError(ErrorId.transport, 503, "connection closed"));
      };
      this.socket.once("drain", onDrain).once("close", onClose);
    });
  }

  /** Writes one `200 OK` reply; returns false when the socket's buffer is full. */
  private write(request: Header, message: Message): boolean {
    if (this.dead) return true;
    const header = replyHeader(request, message);
    if (this.closing && this.slots.length === 0 && this.streams.size === 0) header.Connection = "close";
    let head: string;
    try {
      head = `HTTP/1.1 200 OK\r\n${headerLines(header)}Content-Length: ${message.body.length}\r\n\r\n`;
    } catch (err) {
      const error = MicroError.internal(ErrorId.server, `reply not sendable: ${(err as Error).message}`).toString();
      head = `HTTP/1.1 200 OK\r\n${MicroHeader.Error}: ${error}\r\n${X_ERROR}: ${error}\r\nContent-Length: 0\r\n\r\n`;
      message = { header: {}, body: EMPTY };
    }
    let ok: boolean;
    if (message.body.length === 0) ok = this.socket.write(head);
    else if (message.body.length < 16 * 1024) ok = this.socket.write(Buffer.concat([Buffer.from(head), message.body]));
    else {
      this.socket.cork();
      this.socket.write(head);
      ok = this.socket.write(message.body);
      this.socket.uncork();
    }
    if (!ok && this.socket.writableLength > this.settings.maxWriteBuffer) {
      this.settings.limitLog.warn("http transport: a client left too many reply bytes unread, closing its connection", {
        remote: this.remote,
        buffered: this.socket.writableLength,
        limit: this.settings.maxWriteBuffer,
      });
      this.teardown("reply buffer limit");
    }
    return ok;
  }

  /** Answers malformed input with an HTTP error and closes, as Go's http.Server does. */
  private reject(status: number, reason: string): void {
    if (this.dead) return;
    this.settings.limitLog.warn(`http transport: bad request (${status}), closing the connection`, { remote: this.remote, status, reason });
    this.parser.stop();
    const text = STATUS[status] ?? "Bad Request";
    const body = `${status} ${text}: ${reason}`;
    this.endSocket(
      `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    this.abortAll("bad request");
  }

  /**
   * Takes requests unless something says not to: a stream's reader fell behind, the calls cap
   * is reached, or (with no stream open) replies are not being read. Then the parser holds
   * what it has and the socket is not read, so a peer that does not read its replies cannot
   * make the server take on more work. Also where a closing connection ends once idle.
   */
  private flowChanged(): void {
    if (this.dead) return;
    if (this.parser.isHeld && this.mayTakeCalls()) {
      const problem = this.parser.release();
      if (problem) return this.reject(problem.status, problem.reason);
      if (this.dead) return;
    }
    if (!this.charge()) return;
    if (this.endIfIdle()) return;
    const full = !this.mayTakeCalls();
    if (full) this.parser.hold();
    const hold = full || this.pausedStreams > 0;
    if (hold && this.reading) {
      this.reading = false;
      this.socket.pause();
    } else if (!hold && !this.reading) {
      this.reading = true;
      this.socket.resume();
    }
    this.rearm();
  }

  /**
   * Counts what this connection holds against the transport's budget. Past the limit, the
   * connection whose incomplete request grew is refused: with nothing of it running, a 503 (the
   * client may retry elsewhere: nothing ran); with calls running, it is dropped (they may have
   * run). Calls already taken only count. False when the connection was refused.
   */
  private charge(): boolean {
    const partial = this.parser.buffered;
    const grew = partial > this.chargedPartial;
    this.chargedPartial = partial;
    const holds = partial + this.callBytes;
    const budget = this.settings.budget;
    budget.used += holds - this.charged;
    this.charged = holds;
    if (budget.used <= budget.limit || !grew) return true;
    this.settings.limitLog.warn("http transport: requests in progress hold too many bytes, closing a connection", {
      remote: this.remote,
      holds,
      total: budget.used,
      limit: budget.limit,
    });
    if (this.slots.length > 0 || this.streams.size > 0) this.teardown("request bytes limit");
    else this.reject(503, `the server holds too many bytes of requests in progress (limit ${budget.limit})`);
    return false;
  }

  /** The connection is done: what it held no longer counts. */
  private uncharge(): void {
    this.settings.budget.used -= this.charged;
    this.charged = 0;
    this.chargedPartial = 0;
  }

  private mayTakeCalls(): boolean {
    return this.slots.length < this.settings.maxCallsPerConnection && !this.writeBacklogged();
  }

  /** Unary replies wait in the socket's buffer (streams pace themselves: their sends wait for drain). */
  private writeBacklogged(): boolean {
    return this.socket.writableNeedDrain && this.streams.size === 0;
  }

  /**
   * Points the connection's one timer at what it waits for now: the replies to drain, the rest
   * of a head or body, or the next request of an idle connection. Nothing while calls run or
   * while the server itself stopped reading. A wait that goes on keeps its start.
   */
  rearm(): void {
    if (this.dead) return;
    const s = this.settings;
    if (this.writeBacklogged()) return this.arm("write", s.writeTimeout);
    if (!this.reading) return this.arm("none", Infinity);
    const phase = this.parser.phase;
    if (phase === "head") return this.arm("head", s.headerTimeout);
    if (phase === "body") return this.arm("body", s.bodyTimeout);
    if (this.slots.length > 0 || this.streams.size > 0) return this.arm("none", Infinity);
    this.arm("idle", s.idleTimeout);
  }

  /**
   * Moving a deadline later does not touch the timer: it fires, sees the deadline moved and
   * waits the rest. Busy connections thus cost no timer work per request.
   */
  private arm(wait: Wait, ms: number): void {
    if (wait === this.waiting && this.waitingSince === this.parser.messages) return;
    this.waiting = wait;
    this.waitingSince = this.parser.messages;
    this.deadline = ms === Infinity ? Infinity : Date.now() + ms;
    if (this.deadline < this.timerAt) this.schedule(ms);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = Date.now() + ms;
    this.timer = setTimeout(this.onTimer, ms).unref();
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.dead || this.deadline === Infinity) return;
    const left = this.deadline - Date.now();
    if (left > 0) return this.schedule(left);
    this.guard(() => this.expired(this.waiting));
  };

  private expired(wait: Wait): void {
    const s = this.settings;
    switch (wait) {
      case "head":
        s.limitLog.warn("http transport: request head not completed in time, closing the connection", { remote: this.remote, timeoutMs: s.headerTimeout });
        return this.reject(408, `request head not completed within ${s.headerTimeout} ms`);
      case "body":
        s.limitLog.warn("http transport: request body not completed in time, closing the connection", { remote: this.remote, timeoutMs: s.bodyTimeout });
        return this.reject(408, `request body not completed within ${s.bodyTimeout} ms`);
      case "write":
        s.limitLog.warn("http transport: a client did not read its replies in time, closing its connection", {
          remote: this.remote,
          timeoutMs: s.writeTimeout,
        });
        return this.teardown("replies not read in time");
      case "idle":
        s.logger.debug("http transport: closing an idle connection", { remote: this.remote, timeoutMs: s.idleTimeout });
        this.closing = true;
        this.endIfIdle();
        return;
      default:
        return;
    }
  }

  private onEnd(): void {
    // The client half-closed: answer what is in flight, then close.
    this.closing = true;
    this.endIfIdle();
  }

  /** Ends a closing connection once nothing is in flight or waiting to be read; true if it did. */
  private endIfIdle(): boolean {
    if (!this.closing || this.dead || this.slots.length > 0 || this.streams.size > 0 || this.parser.isHeld) return false;
    this.endSocket();
    return true;
  }

  /** Ends our side; a peer that keeps its side open is cut off after LINGER ms. */
  private endSocket(last?: string): void {
    this.dead = true;
    this.clearTimer();
    this.uncharge();
    if (last === undefined) this.socket.end();
    else this.socket.end(last);
    this.socket.resume(); // read (and drop) what the peer still sends, so that its close arrives
    setTimeout(() => this.socket.destroy(), LINGER).unref();
  }

  private teardown(reason: string): void {
    this.clearTimer();
    this.uncharge();
    const wasDead = this.dead;
    this.dead = true;
    this.abortAll(reason);
    if (!wasDead || !this.socket.destroyed) this.socket.destroy();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private abortAll(reason: string): void {
    this.callBytes = 0;
    for (const slot of this.slots.splice(0)) slot.controller?.abort(new MicroError(ErrorId.client, 499, `call cancelled: ${reason}`));
    for (const stream of [...this.streams.values()]) stream.lost(`connection closed: ${reason}`, 499);
    this.streams.clear();
  }

  /** Whatever a peer sends, an exception stays here: the connection is dropped, the process serves on. */
  private guard(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.settings.logger.error("http transport: internal error, dropping the connection", {
        remote: this.remote,
        err: err instanceof Error ? err.stack : String(err),
      });
      this.teardown("internal error");
    }
  }
}

/**
 * A reply's headers, as Go Micro writes them: the request's headers echoed, the addressing headers
 * again with an `X-` prefix, then the reply's own headers (an error in both `Micro-Error` and
 * `X-Micro-Error`). Go echoes the connection's first request; this echoes the request being
 * answered, so one caller's metadata never appears in another call's reply.
 */
function replyHeader(request: Header, message: Message): Header {
  const header: Header = {};
  for (const key in request) if (!HOP_BY_HOP.has(key)) header[key] = request[key];
  for (const key of MIRRORED) if (request[key] !== undefined) header[`X-${key}`] = request[key];
  delete header[MicroHeader.Error];
  delete header[X_ERROR];
  Object.assign(header, canonicalHeader(message.header));
  if (header[MicroHeader.Error] !== undefined) header[X_ERROR] = header[MicroHeader.Error];
  if (message.body.length === 0 && message.header[MicroHeader.ContentType] === undefined) delete header[MicroHeader.ContentType];
  return header;
}

function wantsClose(request: HttpMessage): boolean {
  const connection = request.header.Connection?.toLowerCase();
  return connection === "close" || (request.minor === 0 && connection !== "keep-alive");
}

const STATUS: Record<number, string> = {
  400: "Bad Request",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Payload Too Large",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
};
