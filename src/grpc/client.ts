/**
 * The calling half of the gRPC transport: one HTTP/2 connection per address, a stream per call.
 * The RPC client's headers become the gRPC request: `Micro-Service` and `Micro-Endpoint` the
 * path (`/<service>.<Handler>/<Method>`, Go Micro's methodToGRPC), `Content-Type` the content
 * subtype, the deadline `grpc-timeout`, every other header lowercase metadata. Go Micro's client
 * also sends `timeout` (ns) and `x-content-type`, and so does this one, for Go Micro servers.
 */
import http2 from "node:http2";
import type { TLSSocket } from "node:tls";
import { ContentType } from "../codec/codec.js";
import { ErrorId, LocalError, MicroError } from "../errors/errors.js";
import { responseMetadataOf } from "../metadata/context.js";
import { type Header, MicroHeader } from "../metadata/headers.js";
import { joinHostPort, splitHostPort } from "../transport/tcp.js";
import { serviceVerifier, type TlsOptions } from "../transport/tls.js";
import { type CallOptions, type ClientConnection, ConnectionLostError, type Message, NotDeliveredError, type TransportStream } from "../transport/transport.js";
import { FrameReader, frame } from "./frames.js";
import { grpcSubtype, methodPath, STREAM_INPUT } from "./grpc.js";
import { Inbox } from "./inbox.js";
import { decodeGrpcMessage, errorOf, formatGrpcTimeout, GrpcCode } from "./status.js";
import { secureConnectOptions } from "./tls.js";

/** Headers that address the call or are carried another way; never sent as metadata. */
const ROUTING = new Set<string>([
  MicroHeader.Service,
  MicroHeader.Endpoint,
  MicroHeader.Method,
  MicroHeader.Id,
  MicroHeader.Stream,
  MicroHeader.StreamInput,
  MicroHeader.ContentType,
  MicroHeader.Timeout,
]);

/**
 * Opens an HTTP/2 connection to `address` (`host:port`), over TLS when `tls` is given, failing
 * with NotDeliveredError (a server whose certificate does not verify among them).
 */
export function dialGrpc(address: string, maxMessageSize: number, timeout: number, tls?: TlsOptions): Promise<ClientConnection> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    const authority = joinHostPort(host || "127.0.0.1", port);
    const session = tls ? http2.connect(`https://${authority}`, secureConnectOptions(tls)) : http2.connect(`http://${authority}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new NotDeliveredError(`dial ${address}: timed out after ${timeout} ms`, address));
    }, timeout);
    session.once("error", (err) => {
      clearTimeout(timer);
      session.destroy();
      reject(new NotDeliveredError(`dial ${address}: ${tls ? "TLS: " : ""}${err.message}`, address));
    });
    session.once("connect", () => {
      clearTimeout(timer);
      session.removeAllListeners("error");
      const connection = new GrpcConnection(session, address, maxMessageSize);
      if (tls) connection.verifyService = serviceVerifier(session.socket as TLSSocket, address, tls);
      resolve(connection);
    });
  });
}

class GrpcConnection implements ClientConnection {
  private active = 0;
  private goingAway = false;
  verifyService?: (service: string) => void;

  constructor(
    private readonly session: http2.ClientHttp2Session,
    private readonly address: string,
    private readonly maxSize: number,
  ) {
    session.on("error", () => {}); // the calls on it fail through their streams
    session.on("goaway", () => {
      this.goingAway = true;
    });
    session.socket?.unref();
  }

  get closed(): boolean {
    return this.goingAway || this.session.closed || this.session.destroyed;
  }

  get pending(): number {
    return this.active;
  }

  call(request: Message, options: CallOptions = {}): Promise<Message> {
    const stream = this.open(request, options);
    void stream.send({ header: {}, body: request.body }).catch(() => {});
    stream.end();
    return stream.unary();
  }

  stream(request: Message, options: CallOptions = {}): TransportStream {
    return this.open(request, options);
  }

  close(): void {
    this.session.close();
  }

  private open(request: Message, options: CallOptions): ClientCall {
    if (this.closed) throw new NotDeliveredError(`connection to ${this.address} is closed`, this.address);
    const headers = requestHeaders(request.header, options.deadline);
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.session.request(headers);
    } catch (err) {
      throw new NotDeliveredError(`${this.address}: ${(err as Error).message}`, this.address);
    }
    if (this.active++ === 0) this.session.socket?.ref();
    stream.once("close", () => {
      if (--this.active === 0) this.session.socket?.unref();
    });
    return new ClientCall(stream, this.address, this.maxSize, options);
  }
}

function requestHeaders(header: Header, deadline: number | undefined): http2.OutgoingHttpHeaders {
  const contentType = header[MicroHeader.ContentType] ?? ContentType.json;
  const headers: http2.OutgoingHttpHeaders = {
    ":method": "POST",
    ":path": methodPath(header[MicroHeader.Service] ?? "", header[MicroHeader.Endpoint] ?? header[MicroHeader.Method] ?? ""),
    "content-type": `application/grpc+${grpcSubtype(contentType)}`,
    te: "trailers",
    "x-content-type": contentType,
  };
  // A ts-micro server learns from this that the requests stream, with no .proto or declaration.
  if (header[MicroHeader.StreamInput] === "true") headers[STREAM_INPUT] = "true";
  if (deadline !== undefined) {
    const left = Math.max(1, deadline - Date.now());
    headers["grpc-timeout"] = formatGrpcTimeout(left);
    headers.timeout = (left * 1e6).toFixed(0);
  }
  for (const key in header) {
    if (ROUTING.has(key)) continue;
    const name = key.toLowerCase();
    if (name.startsWith(":") || name.startsWith("grpc-") || name === "connection") continue;
    headers[name] = header[key];
  }
  return headers;
}

/** One call from the client: its request stream out, its responses in, the status at the end. */
class ClientCall implements TransportStream {
  private readonly inbox: Inbox<Message>;
  private readonly reader: FrameReader;
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private done = false;
  /** The server's response metadata from the response headers, handed over with the first message. */
  private headerMetadata: Header | undefined;
  /** The server's response metadata from the trailers (or a trailers-only response), once the call ended. */
  trailer: Header | undefined;

  constructor(
    private readonly stream: http2.ClientHttp2Stream,
    private readonly address: string,
    maxSize: number,
    options: CallOptions,
  ) {
    this.reader = new FrameReader(maxSize);
    this.inbox = new Inbox(
      () => stream.pause(),
      () => stream.resume(),
    );
    stream.on("error", () => {});
    stream.on("response", (headers) => this.onHeaders(headers, false));
    stream.on("trailers", (trailers) => this.onHeaders(trailers, true));
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("close", () => this.onClose());
    if (options.deadline !== undefined) {
      const wait = options.deadline - Date.now();
      this.timer = setTimeout(() => this.abandon(new LocalError(408, "call timeout: no response within the deadline")), Math.max(0, wait));
    }
    if (options.signal) {
      const signal = options.signal;
      if (signal.aborted) queueMicrotask(this.onCallerAbort);
      else {
        // Removed when the call finishes: the caller's signal may outlive many calls (the
        // gateway shares one per keep-alive connection), and must not keep each one alive.
        this.callerSignal = signal;
        signal.addEventListener("abort", this.onCallerAbort, { once: true });
      }
    }
  }

  private callerSignal: AbortSignal | undefined;
  private readonly onCallerAbort = (): void => this.abandon(new LocalError(499, "call cancelled by the caller"));

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  send(message: Message): Promise<void> {
    if (this.done || this.stream.writableEnded) return Promise.reject(new Error("the stream has ended"));
    if (this.stream.write(frame(message.body))) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        this.stream.off("drain", settle);
        this.stream.off("close", settle);
        if (this.done) reject(new Error("the stream has ended"));
        else resolve();
      };
      this.stream.on("drain", settle);
      this.stream.on("close", settle);
    });
  }

  recv(): Promise<Message | undefined> {
    return this.inbox.recv();
  }

  /** Half-closes; with an error, the caller gives up on the call instead. */
  end(error?: string): void {
    if (error !== undefined) return this.cancel(error);
    if (!this.stream.writableEnded && !this.stream.destroyed) this.stream.end();
  }

  cancel(reason = "cancelled"): void {
    this.abandon(new LocalError(499, reason));
  }

  /** The single response of a unary call, or its error in `Micro-Error` as the RPC client expects. */
  async unary(): Promise<Message> {
    let reply: Message | undefined;
    try {
      for (let message = await this.recv(); message; message = await this.recv()) reply ??= message;
    } catch (err) {
      if (err instanceof UndeliveredError) throw new NotDeliveredError(err.detail, this.address);
      if (err instanceof LostError) throw new ConnectionLostError(err.detail, this.address);
      if (err instanceof LocalError || !(err instanceof MicroError)) throw err;
      // The server's answer: the RPC client reads it from Micro-Error, as from any transport.
      return { header: { ...this.headerMetadata, ...this.trailer, [MicroHeader.Error]: err.toString() }, body: new Uint8Array(0) };
    }
    // The response metadata, headers and trailers together, as the answer's headers.
    const header = { ...reply?.header, ...this.trailer };
    return { header, body: reply?.body ?? new Uint8Array(0) };
  }

  private onHeaders(headers: http2.IncomingHttpHeaders, trailers: boolean): void {
    if (!trailers) {
      const status = Number(headers[":status"]);
      if (status !== 200 && headers["grpc-status"] === undefined) {
        return this.fail(new LocalError(httpStatusCode(status), `${this.address} answered HTTP ${status}, not gRPC`));
      }
    }
    const code = headers["grpc-status"];
    if (code === undefined) {
      this.headerMetadata = metadataOf(headers);
      return;
    }
    this.trailer = metadataOf(headers);
    if (Number(code) === GrpcCode.OK) {
      this.finish();
      return this.inbox.close();
    }
    const message = decodeGrpcMessage(String(headers["grpc-message"] ?? ""));
    const detailsHeader = headers["grpc-status-details-bin"];
    const details = typeof detailsHeader === "string" ? Buffer.from(detailsHeader, "base64") : undefined;
    this.fail(errorOf(Number(code), message, details));
  }

  private onData(chunk: Buffer): void {
    try {
      for (const body of this.reader.push(chunk)) {
        this.inbox.push({ header: this.headerMetadata ?? {}, body });
        this.headerMetadata = undefined;
      }
    } catch (err) {
      this.abandon(new LocalError(500, `malformed response from ${this.address}: ${(err as Error).message}`));
    }
  }

  private onClose(): void {
    if (this.done) return;
    const code = this.stream.rstCode;
    // REFUSED_STREAM: the server processed nothing (it was going away); safe to try elsewhere.
    const err =
      code === http2.constants.NGHTTP2_REFUSED_STREAM
        ? new UndeliveredError(`${this.address} refused the call (HTTP/2 code ${code ?? "none"})`)
        : new LostError(`connection to ${this.address} lost before the call finished (HTTP/2 code ${code ?? "none"})`);
    this.fail(err);
  }

  private abandon(err: MicroError): void {
    if (this.done) return;
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.fail(err);
  }

  private fail(err: MicroError): void {
    if (this.done) return;
    this.finish();
    this.inbox.fail(err);
    this.controller.abort(err);
  }

  private finish(): void {
    this.done = true;
    clearTimeout(this.timer);
    this.callerSignal?.removeEventListener("abort", this.onCallerAbort);
  }
}

/** Carried through the inbox, then raised as the transport's NotDeliveredError / ConnectionLostError. */
class UndeliveredError extends MicroError {
  constructor(detail: string) {
    super(ErrorId.transport, 503, detail);
  }
}
class LostError extends MicroError {
  constructor(detail: string) {
    super(ErrorId.transport, 503, detail);
  }
}

/** The server's metadata in response headers or trailers: gRPC's and HTTP/2's own left out, several values joined. */
function metadataOf(headers: http2.IncomingHttpHeaders): Header {
  const header: Header = {};
  for (const key in headers) {
    const value = headers[key];
    if (value !== undefined) header[key] = Array.isArray(value) ? value.join(", ") : value;
  }
  return responseMetadataOf(header);
}

function httpStatusCode(status: number): number {
  return Number.isInteger(status) && status >= 400 ? status : 502;
}
