/**
 * `http`: Go Micro's HTTP transport, byte for byte where it matters, so Go Micro services and
 * ts-micro services call each other. `MICRO_TRANSPORT=http` makes a service speak only this; by
 * default a service listens with `mux`, whose port also answers this protocol (see
 * `goMicroSniffer`), and a client uses this transport for nodes that do not advertise mux.
 */
import type net from "node:net";
import { type Logger, logger } from "../../logger/logger.js";
import { RateLimitedLog } from "../../logger/rate-limited.js";
import { listenTcp } from "../tcp.js";
import { type TlsOptions, type TlsProtocol, TlsServer } from "../tls.js";
import type { ClientConnection, Listener, ListenOptions, Transport } from "../transport.js";
import { HttpClientConnection } from "./client.js";
import { RequestBudget, type ServedConnection, type ServerSettings, serveHttpConnection } from "./server.js";

export interface HttpTransportOptions {
  /** Largest message body accepted, in bytes (default 4 MiB; larger requests get 413). */
  maxMessageSize?: number;
  /** Largest request or response head, in bytes (default 1 MiB, as Go's http.Server; larger gets 431). */
  maxHeaderBytes?: number;
  /** Most header lines in one request or response (default 256; more gets 431). */
  maxHeaders?: number;
  /** Milliseconds to wait for a TCP connection (default 5 s). */
  dialTimeout?: number;
  /** Idle connections kept per server address (default 100, as Go Micro). */
  poolSize?: number;
  /** Milliseconds a connection is reused, counted from when it was opened (default 60 s, as Go Micro). */
  poolTtl?: number;
  /** Bytes a stream's reader may fall behind before the connection stops being read (default 1 MiB). */
  streamWindow?: number;
  /** Milliseconds from a request's first byte to the end of its head (default 10 s; then 408 and close). */
  headerTimeout?: number;
  /** Milliseconds from the end of a request's head to the end of its body (default 30 s; then 408 and close). */
  bodyTimeout?: number;
  /**
   * Milliseconds a server connection with nothing in flight stays open waiting for a request
   * (default 90 s: longer than a client keeps a pooled connection, 60 s, so a pooled connection
   * is never closed under a client about to use it).
   */
  idleTimeout?: number;
  /** Connections a listener serves at once (default 4096); more are answered 503 and closed. */
  maxConnections?: number;
  /** Pipelined calls handled at once per connection (default 64); past it the connection is not read. */
  maxCallsPerConnection?: number;
  /** Bytes of replies a connection may leave unread before it is dropped (default 16 MiB, at least twice maxMessageSize). */
  maxWriteBuffer?: number;
  /** Milliseconds a connection may leave its replies unread before it is dropped (default 30 s). */
  writeTimeout?: number;
  /**
   * Bytes of requests this transport's connections hold at once, together: received of requests
   * not yet complete, plus bodies of calls not yet answered (default 256 MiB, at least twice
   * maxMessageSize). The connection that would go past it gets 503 and is closed.
   */
  maxBufferedBytes?: number;
  /** Milliseconds between two log lines about the same kind of limit hit or bad input (default 10 s; 0 logs each). */
  logInterval?: number;
  logger?: Logger;
  /**
   * Serve and dial TLS (Go Micro's `transport.Secure`, with certificates given instead of made up):
   * a server certificate, optional client-certificate verification (mTLS), service-name checks.
   */
  tls?: TlsOptions;
}

interface Settings extends ServerSettings {
  dialTimeout: number;
  poolSize: number;
  poolTtl: number;
  maxConnections: number;
  tls?: TlsOptions;
}

function settingsFrom(options: HttpTransportOptions): Settings {
  const log = options.logger ?? logger();
  const maxBodyBytes = options.maxMessageSize ?? 4 * 1024 * 1024;
  return {
    maxBodyBytes,
    maxHeaderBytes: options.maxHeaderBytes ?? 1024 * 1024,
    maxHeaders: options.maxHeaders ?? 256,
    dialTimeout: options.dialTimeout ?? 5_000,
    poolSize: options.poolSize ?? 100,
    poolTtl: options.poolTtl ?? 60_000,
    streamWindow: options.streamWindow ?? 1024 * 1024,
    headerTimeout: options.headerTimeout ?? 10_000,
    bodyTimeout: options.bodyTimeout ?? 30_000,
    idleTimeout: options.idleTimeout ?? 90_000,
    maxConnections: options.maxConnections ?? 4096,
    maxCallsPerConnection: options.maxCallsPerConnection ?? 64,
    maxWriteBuffer: Math.max(options.maxWriteBuffer ?? 16 * 1024 * 1024, 2 * maxBodyBytes),
    writeTimeout: options.writeTimeout ?? 30_000,
    tls: options.tls,
    budget: new RequestBudget(Math.max(options.maxBufferedBytes ?? 256 * 1024 * 1024, 2 * maxBodyBytes)),
    logger: log,
    limitLog: new RateLimitedLog(log, options.logInterval ?? 10_000),
  };
}

export class HttpTransport implements Transport {
  readonly name = "http";
  /** True when this transport serves and dials TLS. */
  readonly secure: boolean;
  private readonly settings: Settings;

  constructor(options: HttpTransportOptions = {}) {
    this.settings = settingsFrom(options);
    this.secure = options.tls !== undefined;
  }

  listen(address: string, options: ListenOptions): Promise<Listener> {
    const settings = this.settings;
    const tlsServer = settings.tls && new TlsServer(settings.tls, HTTP_TLS_PROTOCOL);
    let open = 0;
    return listenTcp(
      address,
      (socket) => {
        if (open >= settings.maxConnections) return refuse(socket, settings);
        open++;
        socket.once("close", () => open--);
        const serve = (served: net.Socket) => serveHttpConnection(served, Buffer.alloc(0), options, settings);
        return tlsServer ? tlsServer.accept(socket, settings.headerTimeout, settings.limitLog, serve) : serve(socket);
      },
      settings.logger,
      "http transport",
    );
  }

  async dial(address: string, options: { timeout?: number } = {}): Promise<ClientConnection> {
    const settings = options.timeout === undefined ? this.settings : { ...this.settings, dialTimeout: options.timeout };
    return new HttpClientConnection(address, settings).connect();
  }
}

/** The http transport has no refusal of its own: TLS's generic HTTP 403 / 400 are its language. */
const HTTP_TLS_PROTOCOL: TlsProtocol = { label: "http transport", tellRefused: () => false };

/**
 * Past maxConnections a connection gets `503` and is closed without its request being read: a
 * ts-micro client takes that as "not delivered" and goes to another node. Logged (rate-limited), so
 * that a full server is visible rather than a silent failure.
 */
function refuse(socket: net.Socket, settings: Settings): undefined {
  settings.limitLog.warn("http transport: connection limit reached, refusing a connection", {
    remote: `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`,
    limit: settings.maxConnections,
  });
  const body = `connection limit of ${settings.maxConnections} reached`;
  socket.on("error", () => {});
  socket.end(
    `HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  socket.resume(); // drop what the client sends, so that its close arrives
  setTimeout(() => socket.destroy(), 2_000).unref();
  return undefined;
}

/** What a mux listener calls with a connection that did not start with the mux preface. */
export type Sniffer = (socket: net.Socket, firstBytes: Buffer, options: ListenOptions) => ServedConnection | undefined;

/**
 * Lets a mux port answer Go Micro's HTTP transport: a connection whose first bytes look like an
 * HTTP request line (`POST / HTTP/1.1`) is served as one. Anything else is left to mux.
 */
export function goMicroSniffer(options: HttpTransportOptions = {}): Sniffer {
  const settings = settingsFrom(options);
  return (socket, firstBytes, listenOptions) => {
    if (!looksLikeHttp(firstBytes)) return undefined;
    return serveHttpConnection(socket, firstBytes, listenOptions, settings);
  };
}

/** An upper-case method token followed by a space (or the start of one: the first read may be short). */
function looksLikeHttp(bytes: Buffer): boolean {
  const n = Math.min(bytes.length, 8);
  for (let i = 0; i < n; i++) {
    const c = bytes[i];
    if (c === 0x20) return i > 0;
    if (c < 0x41 || c > 0x5a) return false;
  }
  return n > 0 && n === bytes.length;
}

export type { ServedConnection };
