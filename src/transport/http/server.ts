/**
 * The server side of Go Micro's HTTP transport for one TCP connection, as Go Micro serves a
 * hijacked connection: HTTP/1.1 requests are read straight off the socket, each is one message;
 * each reply is one `200 OK` response echoing the request's headers. Requests carrying
 * `Micro-Stream` belong to a stream (the first one opens it); others are unary calls, answered in
 * the order they arrived (HTTP pipelining), though handled concurrently.
 *
 * Bad input gets a 400/413/431 with `Connection: close` and the connection ends; the server
 * keeps serving everyone else. A request with `Connection: close` is answered, then the
 * connection ends, as Go Micro's ServeConn does.
 */
import type net from "node:net";
import { MicroError } from "../../errors/errors.js";
import type { Logger } from "../../logger/logger.js";
import type { ServedConnection } from "../tcp.js";
import type { Header, IncomingCall, ListenOptions, Message } from "../transport.js";
import { canonicalHeader, headerLines } from "./headers.js";
import { type HttpMessage, HttpParser, type ParserLimits } from "./parser.js";
import { HttpStream, type StreamWire } from "./stream.js";

export interface ServerSettings extends ParserLimits {
  /** Bytes a stream's reader may fall behind before the socket stops being read. */
  streamWindow: number;
  /** Milliseconds a client may take to send a whole request once it started (Go gives 5 s for the first head). */
  requestTimeout: number;
  logger: Logger;
}

export type { ServedConnection };

/** Headers that describe one HTTP message's framing and are never echoed. */
const HOP_BY_HOP = new Set(["Content-Length", "Transfer-Encoding", "Trailer", "Connection", "Keep-Alive", "Expect", "Host", "Upgrade"]);
/** Go Micro's server sets these from the request on every reply, and again with an `X-` prefix. */
const MIRRORED = ["Micro-Id", "Micro-Service", "Micro-Method", "Micro-Endpoint"];
const EMPTY = new Uint8Array(0);
const SERVER_ID = "go.micro.server";

/** One unary call, in arrival order; its response waits until the ones before it are written. */
interface Slot {
  request: HttpMessage;
  response?: Message;
  controller?: AbortController;
}

class Call implements IncomingCall {
  constructor(
    readonly remote: string,
    private readonly slot: Slot,
  ) {}

  get signal(): AbortSignal {
    this.slot.controller ??= new AbortController();
    return this.slot.controller.signal;
  }
}

export function serveHttpConnection(socket: net.Socket, firstBytes: Buffer, options: ListenOptions, settings: ServerSettings): ServedConnection {
  const connection = new HttpServerConnection(socket, options, settings);
  if (firstBytes.length > 0) connection.onData(firstBytes);
  return connection;
}

class HttpServerConnection implements ServedConnection {
  private readonly parser: HttpParser;
  private readonly slots: Slot[] = [];
  private readonly streams = new Map<string, HttpStream>();
  private readonly remote: string;
  private closing = false;
  private dead = false;
  private headerTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly options: ListenOptions,
    private readonly settings: ServerSettings,
  ) {
    this.remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    this.parser = new HttpParser("request", settings, (message) => this.onRequest(message));
    socket.setNoDelay(true);
    socket.on("data", this.onData);
    socket.on("error", () => this.teardown("socket error"));
    socket.on("close", () => this.teardown("closed by the client"));
    socket.on("end", () => this.onEnd());
  }

  readonly onData = (chunk: Buffer): void => {
    const problem = this.parser.push(chunk);
    if (problem) return this.reject(problem.status, problem.reason);
    this.watchHeaderTime();
  };

  goAway(): void {
    this.closing = true;
    this.endIfIdle();
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
    const streamId = request.header["Micro-Stream"] ?? request.header["X-Micro-Stream"];
    if (streamId !== undefined) return this.onStreamMessage(streamId, request, message);
    this.onCall(request, message);
  }

  private onCall(request: HttpMessage, message: Message): void {
    const slot: Slot = { request };
    this.slots.push(slot);
    this.options.handler(message, new Call(this.remote, slot)).then(
      (response) => this.answer(slot, response),
      (err: unknown) => {
        // The RPC layer turns handler errors into Micro-Error responses; reaching here is a bug.
        this.settings.logger.error("request handler failed", { err: err instanceof Error ? err.stack : String(err) });
        this.answer(slot, { header: { "Micro-Error": MicroError.internal(SERVER_ID, "internal server error").toString() }, body: EMPTY });
      },
    );
  }

  /** Records a finished call and writes every response that is now next in line. */
  private answer(slot: Slot, response: Message): void {
    slot.response = response;
    while (this.slots.length > 0 && this.slots[0].response) {
      const done = this.slots.shift()!;
      this.write(done.request.header, done.response!);
    }
    this.endIfIdle();
  }

  private onStreamMessage(id: string, request: HttpMessage, message: Message): void {
    const stream = this.streams.get(id);
    if (stream) return stream.deliver(message);
    // A client's EOS for a stream that has already finished needs nothing more.
    if (request.header["Micro-Error"] !== undefined) return;
    if (!this.options.streamHandler) {
      const err = new MicroError(SERVER_ID, 501, "this server does not take streams");
      this.write(request.header, { header: { "Micro-Error": err.toString() }, body: EMPTY });
      return;
    }
    const opened = new HttpStream(this.streamWire(id, request.header), this.settings.streamWindow);
    this.streams.set(id, opened);
    // The opening message addresses the stream; Go Micro's server discards its body.
    this.options.streamHandler(message, opened, { remote: this.remote, signal: opened.signal });
  }

  private streamWire(id: string, opening: Header): StreamWire {
    return {
      write: (message) => this.writeAndWait(opening, message),
      pause: () => this.socket.pause(),
      resume: () => this.socket.resume(),
      abort: () => this.teardown(`stream ${id} cancelled by the server`),
      finished: () => {
        this.streams.delete(id);
        this.endIfIdle();
      },
    };
  }

  private writeAndWait(request: Header, message: Message): Promise<void> {
    if (this.dead) return Promise.reject(new MicroError("go.micro.transport", 503, "connection closed"));
    if (this.write(request, message)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        this.socket.off("close", onClose);
        resolve();
      };
      const onClose = (): void => {
        this.socket.off("drain", onDrain);
        reject(new MicroError("go.micro.transport", 503, "connection closed"));
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
      const error = MicroError.internal(SERVER_ID, `reply not sendable: ${(err as Error).message}`).toString();
      head = `HTTP/1.1 200 OK\r\nMicro-Error: ${error}\r\nX-Micro-Error: ${error}\r\nContent-Length: 0\r\n\r\n`;
      message = { header: {}, body: EMPTY };
    }
    if (message.body.length === 0) return this.socket.write(head);
    if (message.body.length < 16 * 1024) return this.socket.write(Buffer.concat([Buffer.from(head), message.body]));
    this.socket.cork();
    this.socket.write(head);
    const ok = this.socket.write(message.body);
    this.socket.uncork();
    return ok;
  }

  /** Answers malformed input with an HTTP error and closes, as Go's http.Server does. */
  private reject(status: number, reason: string): void {
    if (this.dead) return;
    this.settings.logger.warn("bad HTTP request, closing the connection", { remote: this.remote, status, reason });
    this.parser.stop();
    const body = `${status} ${STATUS[status] ?? "Bad Request"}: ${reason}`;
    this.socket.end(`HTTP/1.1 ${status} ${STATUS[status] ?? "Bad Request"}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    this.dead = true;
    this.abortAll("bad request");
  }

  /** A client that starts a request must finish it in time (slowloris guard). */
  private watchHeaderTime(): void {
    if (!this.parser.partial || this.dead) {
      if (this.headerTimer) clearTimeout(this.headerTimer);
      this.headerTimer = undefined;
      return;
    }
    if (this.headerTimer) return;
    this.headerTimer = setTimeout(() => this.reject(408, "request not completed in time"), this.settings.requestTimeout);
    this.headerTimer.unref();
  }

  private onEnd(): void {
    // The client half-closed: answer what is in flight, then close.
    this.closing = true;
    this.endIfIdle();
  }

  private endIfIdle(): void {
    if (!this.closing || this.dead || this.slots.length > 0 || this.streams.size > 0) return;
    this.dead = true;
    this.socket.end();
  }

  private teardown(reason: string): void {
    if (this.headerTimer) clearTimeout(this.headerTimer);
    const wasDead = this.dead;
    this.dead = true;
    this.abortAll(reason);
    if (!wasDead || !this.socket.destroyed) this.socket.destroy();
  }

  private abortAll(reason: string): void {
    for (const slot of this.slots.splice(0)) slot.controller?.abort(new MicroError("go.micro.client", 499, `call cancelled: ${reason}`));
    for (const stream of [...this.streams.values()]) stream.lost(`connection closed: ${reason}`, 499);
    this.streams.clear();
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
  delete header["Micro-Error"];
  delete header["X-Micro-Error"];
  Object.assign(header, canonicalHeader(message.header));
  if (header["Micro-Error"] !== undefined) header["X-Micro-Error"] = header["Micro-Error"];
  if (message.body.length === 0 && message.header["Content-Type"] === undefined) delete header["Content-Type"];
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
};
