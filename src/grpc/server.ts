/**
 * The serving half of the gRPC transport: an HTTP/2 server (h2c) whose streams become calls to
 * the RPC server's handler (unary) or stream handler. Every gRPC call is a bidi stream on the
 * wire; how the endpoint streams (EndpointShape) decides which handler runs it, as Go Micro's
 * UnknownServiceHandler does with the handler's signature.
 */
import http2 from "node:http2";
import type net from "node:net";
import { ContentType } from "../codec/codec.js";
import { ErrorId, MicroError } from "../errors/errors.js";
import type { Logger } from "../logger/logger.js";
import { RateLimitedLog } from "../logger/rate-limited.js";
import { type PeerCertificate, responseMetadataOf } from "../metadata/context.js";
import { type Header, MicroHeader } from "../metadata/headers.js";
import { answerCall } from "../transport/answer.js";
import { joinHostPort, splitHostPort } from "../transport/tcp.js";
import type { TlsOptions } from "../transport/tls.js";
import type { IncomingCall, Listener, ListenOptions, Message, TransportStream } from "../transport/transport.js";
import { type FrameError, FrameReader, frame } from "./frames.js";
import { codecContentType, type EndpointShape, parseMethodPath, STREAM_INPUT } from "./grpc.js";
import { Inbox } from "./inbox.js";
import { encodeGrpcMessage, GrpcCode, type GrpcStatus, parseGrpcTimeout, statusOf } from "./status.js";
import { refusedReason, refuseStream, secureHttp2Server, sessionCertificate, tlsFront } from "./tls.js";

/** A method of a service the transport serves itself (health, reflection), on raw messages. */
export type InternalMethod = (call: ServerCall) => Promise<void>;

export interface GrpcServeOptions extends ListenOptions {
  maxMessageSize: number;
  logger: Logger;
  /** How `endpoint` streams; undefined when the server has no such endpoint. */
  shape: (endpoint: string) => EndpointShape | undefined;
  /** Services served by the transport, by full gRPC name, then method name. */
  internal: ReadonlyMap<string, Readonly<Record<string, InternalMethod>>>;
  /** Serve TLS (h2 by ALPN) with the transports' TLS options; mTLS with `clientAuth: "require"`. */
  tls?: TlsOptions;
  /** Rewrites a JSON response message of `endpoint` as Go Micro's gRPC server writes it (the .proto's field names). */
  jsonResponse?: (endpoint: string, body: Uint8Array) => Uint8Array;
}

/** Request headers that are gRPC's or HTTP/2's own, not the caller's metadata. */
const NOT_METADATA = new Set([
  "content-type",
  "te",
  "grpc-timeout",
  "grpc-encoding",
  "grpc-accept-encoding",
  "timeout",
  "x-content-type",
  "user-agent",
  STREAM_INPUT,
]);

const EMPTY_JSON = new TextEncoder().encode("{}");

/** How long destroy() lets answers already being written reach the caller. */
const FLUSH_WINDOW = 500;

export async function listenGrpc(address: string, options: GrpcServeOptions): Promise<Listener> {
  const { host, port } = splitHostPort(address);
  /** Open sessions, with how many of their streams are still open. */
  const sessions = new Map<http2.ServerHttp2Session, number>();
  const settings = { maxConcurrentStreams: 1000 };
  const server: http2.Http2Server | http2.Http2SecureServer = options.tls ? secureHttp2Server(options.tls, settings) : http2.createServer({ settings });
  // With TLS, a net.Server in front tells plaintext clients why they are refused.
  const front: net.Server = options.tls ? tlsFront(server as http2.Http2SecureServer, options.logger) : server;
  /** Sessions of an mTLS server without a verified client certificate: why their calls are refused. */
  const refused = new WeakMap<http2.ServerHttp2Session, string>();
  const refusals = new RateLimitedLog(options.logger);
  server.on("session", (session) => {
    const reason = refusedReason(session, options.tls);
    if (reason) {
      refused.set(session, reason);
      refusals.warn("closing grpc connection", { remote: remoteOfSession(session), reason }, reason.split(":")[0]);
      session.on("error", () => {});
      setTimeout(() => session.destroy(), FLUSH_WINDOW * 2).unref();
      return;
    }
    sessions.set(session, 0);
    session.on("close", () => sessions.delete(session));
    session.on("stream", (stream) => {
      sessions.set(session, (sessions.get(session) ?? 0) + 1);
      stream.once("close", () => sessions.has(session) && sessions.set(session, (sessions.get(session) ?? 1) - 1));
    });
    // Garbage, a wrong preface, a protocol error: that connection goes, the server stays.
    session.on("error", (err) => options.logger.debug("grpc: connection failed", { err: err.message }));
  });
  // A client that gave up on the handshake (it does not trust this certificate), or spoke garbage over TLS.
  server.on("tlsClientError", (err: Error, socket: net.Socket) =>
    refusals.warn(
      "closing grpc connection",
      { remote: joinHostPort(socket.remoteAddress ?? "?", socket.remotePort ?? 0), reason: `TLS handshake failed: ${err.message}` },
      "TLS handshake failed",
    ),
  );
  server.on("sessionError", (err) => options.logger.debug("grpc: bad connection closed", { err: err.message }));
  server.on("stream", (stream, headers) => {
    const reason = refused.get(stream.session as http2.ServerHttp2Session);
    if (reason) return refuseStream(stream, GrpcCode.UNAUTHENTICATED, reason);
    serveStream(stream, headers, options);
  });
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen({ host: host || undefined, port }, () => {
      front.off("error", reject);
      resolve();
    });
  });
  front.on("error", (err) => options.logger.error("grpc: server error", { err: err.message }));
  const bound = front.address();
  const boundAddress = typeof bound === "object" && bound ? joinHostPort(host || bound.address, bound.port) : address;
  return {
    address: boundAddress,
    // Stops accepting and sends GOAWAY: calls in flight finish (the service bounds the wait with
    // its grace period, then destroys), new ones go elsewhere.
    close: async () => {
      front.close();
      for (const session of sessions.keys()) session.close();
    },
    // A call whose handler has returned may still be writing its answer and trailers: a session
    // with open streams gets FLUSH_WINDOW ms to finish them (closing on its own once they end).
    destroy: () => {
      for (const [session, open] of sessions) {
        if (open === 0) session.destroy();
        else {
          session.close();
          setTimeout(() => session.destroy(), FLUSH_WINDOW).unref();
        }
      }
      front.close();
    },
  };
}

/** One HTTP/2 stream: refused as HTTP if it is not gRPC, else routed to a call. */
function serveStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, options: GrpcServeOptions): void {
  stream.on("error", () => {}); // a reset stream; the call's signal reports it
  const contentType = String(headers["content-type"] ?? "");
  if (headers[":method"] !== "POST") return refuseHttp(stream, 405);
  if (!contentType.startsWith("application/grpc")) return refuseHttp(stream, 415);
  const call = new ServerCall(stream, contentType, options.maxMessageSize, remoteOfSession(stream.session), sessionCertificate(stream.session));
  const path = String(headers[":path"] ?? "");
  const target = parseMethodPath(path);
  if (!target) return call.finish({ code: GrpcCode.UNIMPLEMENTED, message: `malformed method name: ${JSON.stringify(path)}` });
  const internal = options.internal.get(target.service);
  if (internal) {
    void runInternal(call, internal, target.endpoint, options.logger);
    return;
  }
  routeCall(call, headers, target.endpoint, options);
}

/** A call to one of the RPC server's endpoints: its shape, codec and deadline decide how it runs. */
function routeCall(call: ServerCall, headers: http2.IncomingHttpHeaders, endpoint: string, options: GrpcServeOptions): void {
  const shape = options.shape(endpoint);
  if (!shape) return call.finish({ code: GrpcCode.UNIMPLEMENTED, message: `unknown service ${endpoint}` });
  const contentType = String(headers["content-type"]);
  const subtype = String(headers["x-content-type"] ?? contentType);
  const microType = codecContentType(subtype) ?? codecContentType(contentType);
  if (!microType) return call.finish({ code: GrpcCode.INTERNAL, message: `Unsupported Content-Type: ${subtype}` });
  const timeout = parseGrpcTimeout(headers["grpc-timeout"] as string | undefined) ?? nanosToMs(headers.timeout as string | undefined);
  if (timeout !== undefined) call.expireAfter(timeout);
  const rewrite = options.jsonResponse;
  if (rewrite && microType === ContentType.json) call.rewrite = (body) => rewrite(endpoint, body);
  const header = metadataOf(headers);
  header[MicroHeader.Endpoint] = endpoint;
  header[MicroHeader.Method] = endpoint;
  header[MicroHeader.ContentType] = microType;
  if (timeout !== undefined) header[MicroHeader.Timeout] = (timeout * 1e6).toFixed(0);
  const input = shape.input || headers[STREAM_INPUT] === "true";
  if (!input && !shape.output) return runUnary(call, header, microType, options);
  if (input) header[MicroHeader.StreamInput] = "true";
  if (!options.streamHandler) return call.finish({ code: GrpcCode.UNIMPLEMENTED, message: "this server takes no streams" });
  options.streamHandler({ header, body: new Uint8Array(0) }, call, call);
}

/** Unary: the first request message to the RPC server's handler, its reply (or error) back. */
function runUnary(call: ServerCall, header: Header, microType: string, options: GrpcServeOptions): void {
  call.recv().then(
    (first) => {
      if (!first) return call.finish({ code: GrpcCode.INVALID_ARGUMENT, message: `${header[MicroHeader.Endpoint]}: the call ended without a request message` });
      answerCall(options.handler, { header, body: first.body }, call, (reply) => call.reply(reply, microType), options.logger);
    },
    (err: unknown) => call.finish(statusFromFailure(err)),
  );
}

/**
 * One call on the server: the request messages as a TransportStream for the RPC server, the
 * response side (headers once, messages, trailers with the status), and the IncomingCall that
 * tells the handler when the caller went away or the deadline passed.
 */
export class ServerCall implements TransportStream, IncomingCall {
  private readonly inbox: Inbox<Message>;
  private readonly reader: FrameReader;
  private readonly controller = new AbortController();
  private responded = false;
  /** The response metadata keys sent in the response headers, not repeated in the trailers. */
  private sentHeaders: ReadonlySet<string> | undefined;
  private finished = false;
  private timer: NodeJS.Timeout | undefined;
  /** Applied to each response message before it is framed (JSON field names, see jsonResponse). */
  rewrite: ((body: Uint8Array) => Uint8Array) | undefined;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly contentType: string,
    private readonly maxSize: number,
    readonly remote: string,
    /** The caller's verified client certificate (mTLS); undefined otherwise. */
    readonly certificate?: PeerCertificate,
  ) {
    this.reader = new FrameReader(maxSize);
    this.inbox = new Inbox(
      () => stream.pause(),
      () => stream.resume(),
    );
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("end", () => {
      if (this.reader.partial) this.finish({ code: GrpcCode.INTERNAL, message: "the request ended inside a message" });
      else this.inbox.close();
    });
    stream.on("close", () => {
      clearTimeout(this.timer);
      if (this.finished) return;
      this.finished = true;
      const reason = MicroError.unavailable(ErrorId.server, "the caller cancelled the call");
      this.inbox.fail(reason);
      this.controller.abort(reason);
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Ends the call with DEADLINE_EXCEEDED after `ms`, aborting the handler's signal. */
  expireAfter(ms: number): void {
    this.timer = setTimeout(() => {
      const reason = MicroError.timeout(ErrorId.server, "deadline exceeded");
      this.finish({ code: GrpcCode.DEADLINE_EXCEEDED, message: "context deadline exceeded" });
      this.controller.abort(reason);
    }, ms);
    this.timer.unref();
  }

  recv(): Promise<Message | undefined> {
    return this.inbox.recv();
  }

  send(message: Message): Promise<void> {
    if (this.finished) return Promise.reject(new Error("the call has ended"));
    const body = this.rewrite ? this.rewrite(message.body) : message.body;
    if (body.length > this.maxSize) {
      const err = new MicroError(ErrorId.server, 500, `grpc: trying to send message larger than max (${body.length} vs. ${this.maxSize})`);
      this.finish({ code: GrpcCode.RESOURCE_EXHAUSTED, message: err.detail });
      return Promise.reject(err);
    }
    this.respond(message.header);
    if (this.stream.write(frame(body))) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.stream.off("drain", done);
        this.stream.off("close", done);
        if (this.stream.destroyed && this.finished) reject(new Error("the call has ended"));
        else resolve();
      };
      this.stream.on("drain", done);
      this.stream.on("close", done);
    });
  }

  end(error?: string, metadata?: Header): void {
    this.finish(error === undefined ? { code: GrpcCode.OK, message: "" } : statusOf(MicroError.parse(error)), metadata);
  }

  cancel(): void {
    if (this.finished) return;
    this.finished = true;
    this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.controller.abort(MicroError.unavailable(ErrorId.server, "the call was cancelled"));
  }

  /** Answers a unary call with the RPC server's reply. */
  reply(reply: Message, microType: string): void {
    const error = reply.header[MicroHeader.Error];
    const metadata = responseMetadataOf(reply.header);
    if (error !== undefined) return this.finish(statusOf(MicroError.parse(error)), metadata);
    // A handler that returned nothing still answers with one message, as unary gRPC requires.
    const body = reply.body.length === 0 && microType === ContentType.json ? EMPTY_JSON : reply.body;
    this.send({ header: metadata, body }).then(
      () => this.finish({ code: GrpcCode.OK, message: "" }),
      () => {},
    );
  }

  /**
   * Sends the status: in trailers after the response headers, or alone (trailers-only), with
   * the handler's response metadata not already sent in the headers.
   */
  finish(status: GrpcStatus, metadata?: Header): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    const trailers: http2.OutgoingHttpHeaders = grpcMetadata(metadata, this.sentHeaders);
    trailers["grpc-status"] = String(status.code);
    if (status.message) trailers["grpc-message"] = encodeGrpcMessage(status.message);
    if (status.details) trailers["grpc-status-details-bin"] = Buffer.from(status.details).toString("base64");
    if (this.stream.destroyed || this.stream.closed) return;
    if (this.responded) {
      this.stream.once("wantTrailers", () => this.stream.sendTrailers(trailers));
      this.stream.end();
    } else {
      this.responded = true;
      this.stream.respond({ ":status": 200, "content-type": this.contentType, ...trailers }, { endStream: true });
    }
    // Whatever the caller still sends is of no use now.
    this.inbox.close();
  }

  private respond(metadata: Header): void {
    if (this.responded) return;
    this.responded = true;
    const headers = grpcMetadata(metadata);
    this.sentHeaders = new Set(Object.keys(headers));
    this.stream.respond({ ...headers, ":status": 200, "content-type": this.contentType }, { waitForTrailers: true });
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    try {
      for (const body of this.reader.push(chunk)) this.inbox.push({ header: {}, body });
    } catch (err) {
      const failure = err as FrameError;
      this.finish({ code: failure.code ?? GrpcCode.INTERNAL, message: failure.message });
      this.inbox.fail(MicroError.badRequest(ErrorId.server, failure.message));
    }
  }
}

async function runInternal(call: ServerCall, service: Readonly<Record<string, InternalMethod>>, endpoint: string, log: Logger): Promise<void> {
  const method = service[endpoint.slice(endpoint.indexOf(".") + 1)];
  if (!method) return call.finish({ code: GrpcCode.UNIMPLEMENTED, message: `unknown method ${endpoint}` });
  try {
    await method(call);
    call.end();
  } catch (err) {
    if (!(err instanceof MicroError)) log.error("grpc: internal service failed", { endpoint, err: (err as Error).message });
    call.finish(statusFromFailure(err));
  }
}

function statusFromFailure(err: unknown): GrpcStatus {
  if (err instanceof MicroError) return statusOf(err);
  return { code: GrpcCode.INTERNAL, message: err instanceof Error ? err.message : String(err) };
}

/** The caller's metadata (lowercase keys, several values joined with ", ", as Go Micro). */
function metadataOf(headers: http2.IncomingHttpHeaders): Header {
  const header: Header = {};
  for (const key in headers) {
    if (key.charCodeAt(0) === 58 /* : */ || NOT_METADATA.has(key)) continue;
    const value = headers[key];
    if (value !== undefined) header[key] = Array.isArray(value) ? value.join(", ") : value;
  }
  return header;
}

/**
 * Response metadata as gRPC headers: keys lowercased, framework and protocol headers left out,
 * and entries HTTP/2 cannot carry (a name that is not a token, a value with control characters)
 * dropped rather than failing the call; `skip`: keys already sent.
 */
function grpcMetadata(metadata: Header | undefined, skip?: ReadonlySet<string>): http2.OutgoingHttpHeaders {
  const headers: http2.OutgoingHttpHeaders = {};
  if (!metadata) return headers;
  for (const [key, value] of Object.entries(responseMetadataOf(metadata))) {
    const name = key.toLowerCase();
    if (skip?.has(name) || !HEADER_NAME.test(name) || !HEADER_VALUE.test(value)) continue;
    headers[name] = value;
  }
  return headers;
}

const HEADER_NAME = /^[0-9a-z_.-]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const HEADER_VALUE = /^[^\x00-\x08\x0a-\x1f\x7f]*$/;

function nanosToMs(value: string | undefined): number | undefined {
  const ns = Number(value);
  return value && Number.isFinite(ns) && ns > 0 ? ns / 1e6 : undefined;
}

function remoteOfSession(session: http2.Http2Session | undefined): string {
  const socket = session?.socket;
  return joinHostPort(socket?.remoteAddress ?? "?", socket?.remotePort ?? 0);
}

/** Not a gRPC request at all: a plain HTTP status, as the gRPC over HTTP/2 spec asks. */
function refuseHttp(stream: http2.ServerHttp2Stream, status: number): void {
  if (!stream.destroyed) stream.respond({ ":status": status }, { endStream: true });
}
