/**
 * Transports move messages between a client and a server. A message is Go Micro's
 * `transport.Message`: headers plus an opaque body. The RPC layer above decides what the headers
 * mean; a transport only promises delivery of a request and its response, and cancellation.
 *
 * Header keys are delivered in canonical form (`Micro-Endpoint`, `Content-Type`, `Timeout`) so
 * that the RPC layer can read them without case folding; a transport whose wire format folds case
 * (HTTP) canonicalises on receipt.
 */

import type { PeerCertificate } from "../metadata/context.js";
import type { Header } from "../metadata/headers.js";

export type { Header };

export interface Message {
  header: Header;
  body: Uint8Array;
}

/** What the server side knows about one incoming request. */
export interface IncomingCall {
  /** The caller's address, `host:port` (for `nats`, the caller's reply inbox subject). */
  readonly remote: string;
  /** Fires when the caller cancels the call or its connection drops. */
  readonly signal: AbortSignal;
  /** The caller's verified client certificate (mux with mTLS); undefined otherwise. */
  readonly certificate?: PeerCertificate;
}

/**
 * The server's side of a transport: one call per incoming request. The handler answers either
 * by calling `respond` once or by returning a promise of the response, not both; transports
 * accept either (answerCall). The RPC server calls `respond` from its method's own promise: a
 * promise of its own would cost every call one more promise and one more microtask.
 */
export type RequestHandler = (request: Message, call: IncomingCall, respond: (response: Message) => void) => Promise<Message> | undefined;

/**
 * One side of a stream: an ordered exchange of messages in both directions. `send` waits while
 * the peer is behind (flow control), so a fast producer cannot grow the receiver's memory.
 */
export interface TransportStream {
  /** Sends a message; resolves once the peer has room for it. Rejects if the stream has ended. */
  send(message: Message): Promise<void>;
  /**
   * The next message from the peer; undefined once the peer ended its side. Rejects with the
   * peer's MicroError when it ended the stream with an error, or when the stream was cancelled.
   */
  recv(): Promise<Message | undefined>;
  /**
   * Ends this side's sending, optionally with an error (which ends the stream for both sides).
   * `metadata`: the server's response metadata, for a transport that sends it at the end of a
   * stream (gRPC trailers); others ignore it.
   */
  end(error?: string, metadata?: Header): void;
  /** Abandons the stream: the peer's signal fires and its sends fail. */
  cancel(reason?: string): void;
  /** Fires when the stream ends early: cancelled by the peer, or the connection dropped. */
  readonly signal: AbortSignal;
  /**
   * On the calling side of a transport whose stream ends with headers of its own (gRPC's
   * trailers): those headers, once the stream has ended. Undefined elsewhere.
   */
  readonly trailer?: Header;
}

/** The server's side of a stream: called once per stream a client opens. */
export type StreamHandler = (request: Message, stream: TransportStream, call: IncomingCall) => void;

export interface CallOptions {
  /** Absolute deadline (ms since the epoch); past it the call fails with 408 and is cancelled. */
  deadline?: number;
  signal?: AbortSignal;
}

/** A connection from a client to one server address; may carry many calls at once. */
export interface ClientConnection {
  /** Sends a request and resolves with the response message (which may carry `Micro-Error`). */
  call(request: Message, options?: CallOptions): Promise<Message>;
  /**
   * Opens a stream. `request` carries the headers that address it (its body is not a message);
   * messages follow with `send`. The deadline and signal end the whole stream.
   */
  stream(request: Message, options?: CallOptions): TransportStream;
  /** True once the connection can take no more calls (closed, failed, or the server is going away). */
  readonly closed: boolean;
  /** Calls in flight on this connection. */
  readonly pending: number;
  /**
   * Optional: checks now that the peer is alive (mux sends a ping). A peer that sends nothing
   * within `timeout` ms fails the connection and its calls with ConnectionLostError.
   */
  probe?(timeout: number): void;
  /**
   * Set on TLS connections that check service names (`verifyService`): throws NotDeliveredError
   * unless the server's certificate names `service`. The client runs it before each call.
   */
  verifyService?: (service: string) => void;
  close(): void;
}

export interface Listener {
  /** The bound address, `host:port` (the real port when listening on port 0); for `nats`, the listener's subject. */
  readonly address: string;
  /** Stops accepting connections and tells connected clients to go elsewhere for new calls. */
  close(): Promise<void>;
  /** Drops every connection at once. */
  destroy(): void;
}

export interface ListenOptions {
  handler: RequestHandler;
  /** Streams opened by clients; without it they are refused with 501. */
  streamHandler?: StreamHandler;
}

export interface Transport {
  /** The implementation's name: `mux`, `memory`, `http`, `nats`. */
  readonly name: string;
  /**
   * The RPC protocol a node served by this transport speaks, registered as its `server` and
   * `protocol` metadata (default `mucp`; `grpc` for the gRPC transport).
   */
  readonly protocol?: string;
  /** True when the transport encrypts and authenticates its connections (TLS); nodes advertise it. */
  readonly secure?: boolean;
  listen(address: string, options: ListenOptions): Promise<Listener>;
  dial(address: string, options?: { timeout?: number }): Promise<ClientConnection>;
}

/**
 * Raised by a transport for a call that never reached the server (refused connection, dial
 * timeout, a server that said it is going away). Such a call is always safe to retry elsewhere.
 */
export class NotDeliveredError extends Error {
  override readonly name = "NotDeliveredError";
  constructor(
    message: string,
    readonly address: string,
  ) {
    super(message);
  }
}

/**
 * Raised when a connection fails after the request may have reached the server: retrying could
 * run it twice, so only idempotent calls are retried.
 */
export class ConnectionLostError extends Error {
  override readonly name = "ConnectionLostError";
  constructor(
    message: string,
    readonly address: string,
  ) {
    super(message);
  }
}
