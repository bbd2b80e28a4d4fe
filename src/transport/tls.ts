/**
 * TLS and mTLS for the TCP transports (mux, http) with `node:tls`. A secure transport serves TLS
 * and dials TLS; with `clientAuth: "require"` the server also asks each client for a certificate
 * signed by the CA and refuses clients without one (mTLS); with `verifyService` a client checks
 * that the server's certificate names the service it is calling.
 *
 * The server reads a connection's first bytes before the handshake: a plaintext client is told,
 * in its own protocol when it can be (a transport's TlsProtocol, or an HTTP 400), that the server
 * needs TLS, instead of seeing a reset or waiting.
 */
import type net from "node:net";
import type tls from "node:tls";
import { builtin } from "../driver/driver.js";
import type { RateLimitedLog } from "../logger/rate-limited.js";
import type { PeerCertificate } from "../metadata/context.js";
import { joinHostPort, type ServedConnection } from "./tcp.js";
import { NotDeliveredError } from "./transport.js";

/**
 * node:tls, loaded when TLS is first used: a plaintext service does not pay for it (a few MB of
 * memory and part of its start-up).
 */
const nodeTls = builtin<typeof tls>("node:tls");

/** PEM text or bytes. */
export type Pem = string | Buffer;

export interface TlsOptions {
  /** This node's certificate chain: served as a server, presented as a client to mTLS servers. */
  cert?: Pem;
  /** The private key of `cert`. */
  key?: Pem;
  /** CAs trusted for the peer's certificate (default: Node's system CAs). */
  ca?: Pem | Pem[];
  /** `require`: the server refuses clients without a certificate signed by `ca` (mTLS). Default `none`. */
  clientAuth?: "none" | "require";
  /** Name checked against the server's certificate when it is not the dialled host. */
  serverName?: string;
  /**
   * Check that the server's certificate names the service called (a `DNS:` subjectAltName or the
   * CN) instead of the dialled address; a node whose certificate names another service is refused
   * (a registry record pointing at someone else's server). The chain is verified against `ca` as
   * always. Default false.
   */
  verifyService?: boolean;
}

/** How a transport tells a client, in its own protocol, why its connection is refused. */
export interface TlsProtocol {
  /** A name for log lines: `mux`, `http transport`. */
  readonly label: string;
  /**
   * Writes the reason to `socket` if `firstBytes` (what the client sent first: before the
   * handshake for a plaintext client, after it for a refused TLS client) are this protocol's.
   * True when something was written (then the connection lingers so that it arrives); false
   * leaves the client to the generic answers (an HTTP status to an HTTP request, else a close).
   */
  tellRefused(socket: net.Socket, reason: string, firstBytes: Buffer): boolean;
}

/** A TLS record's first byte is its content type: 22 is a handshake (a ClientHello). */
const TLS_HANDSHAKE = 0x16;
/** How long a connection refused over a protocol mismatch may take to deliver the reason. */
const LINGER_MS = 1_000;
export const PLAINTEXT_REFUSED = "plaintext client: this server requires TLS (MICRO_TRANSPORT_SECURE=true)";

/** True when `bytes` start like a TLS record (type 20..23, major version 3). */
export function looksLikeTls(bytes: Buffer): boolean {
  return bytes.length >= 2 && bytes[0] >= 0x14 && bytes[0] <= 0x17 && bytes[1] === 0x03;
}

/** True when `bytes` start like an HTTP request line (an upper-case method and a space). */
function looksLikeHttpRequest(bytes: Buffer): boolean {
  return /^[A-Z]+ /.test(bytes.subarray(0, 8).toString("latin1"));
}

/**
 * The server half. Accepted sockets are handed to a `tls.Server` (never listening itself), so
 * the handshake and the client-certificate check are Node's own; the server asks for client
 * certificates but checks them here, after the handshake, so a refused client is told why.
 */
export class TlsServer {
  private readonly server: tls.Server;
  private readonly requireClientCert: boolean;
  /** Connections in their handshake, by remote address (unique among open connections). */
  private readonly handshakes = new Map<string, Handshake>();

  constructor(
    options: TlsOptions,
    private readonly protocol: TlsProtocol,
  ) {
    if (!options.cert || !options.key) {
      throw new Error(`${protocol.label} TLS: serving TLS needs a certificate and its key (cert and key; MICRO_TLS_CERT, MICRO_TLS_KEY)`);
    }
    this.requireClientCert = options.clientAuth === "require";
    this.server = nodeTls().createServer({
      cert: options.cert,
      key: options.key,
      ca: options.ca,
      requestCert: this.requireClientCert,
      rejectUnauthorized: false,
    });
    this.server.on("secureConnection", (secure: tls.TLSSocket) => {
      const handshake = this.take(secure);
      if (handshake) handshake.secured(secure, this.requireClientCert);
      else secure.destroy(); // its connection was given up on meanwhile
    });
    this.server.on("tlsClientError", (err: Error, secure: tls.TLSSocket) => this.take(secure)?.refuse(`TLS handshake failed: ${err.message}`));
  }

  /**
   * Takes a freshly accepted socket through the TLS handshake and hands the secure socket to
   * `serve`. A handshake that fails or does not finish within `timeout` ms closes only this
   * connection, with a logged reason.
   */
  accept(socket: net.Socket, timeout: number, log: RateLimitedLog, serve: (secure: tls.TLSSocket) => ServedConnection): ServedConnection {
    const handshake = new Handshake(socket, timeout, log, this.protocol, serve, (raw) => {
      this.handshakes.set(handshake.remote, handshake);
      this.server.emit("connection", raw);
    });
    socket.once("close", () => this.handshakes.delete(handshake.remote));
    return handshake;
  }

  private take(secure: tls.TLSSocket): Handshake | undefined {
    const remote = joinHostPort(secure.remoteAddress ?? "?", secure.remotePort ?? 0);
    const handshake = this.handshakes.get(remote);
    this.handshakes.delete(remote);
    return handshake;
  }
}

class Handshake implements ServedConnection {
  private served: ServedConnection | undefined;
  readonly remote: string;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly socket: net.Socket,
    timeout: number,
    private readonly log: RateLimitedLog,
    private readonly protocol: TlsProtocol,
    private readonly serve: (secure: tls.TLSSocket) => ServedConnection,
    /** Starts the handshake on the socket (its first bytes put back). */
    private readonly startTls: (socket: net.Socket) => void,
  ) {
    this.remote = joinHostPort(socket.remoteAddress ?? "?", socket.remotePort ?? 0);
    this.timer = setTimeout(() => this.refuse(`no TLS handshake within ${timeout} ms`), timeout).unref();
    socket.once("data", this.onFirstBytes);
    socket.on("error", (err) => this.refuse(`socket error: ${err.message}`, "debug"));
  }

  private readonly onFirstBytes = (chunk: Buffer): void => {
    if (chunk[0] !== TLS_HANDSHAKE) return this.refusePlaintext(chunk);
    this.socket.pause();
    this.socket.unshift(chunk);
    this.startTls(this.socket);
  };

  /**
   * The handshake is done: serve the connection, unless it lacks a client certificate that was
   * required. A refused client is told why in the protocol its first bytes show (mux or HTTP);
   * one that sends nothing is closed after a while.
   */
  secured(secure: tls.TLSSocket, requireClientCert: boolean): void {
    clearTimeout(this.timer);
    if (requireClientCert && !secure.authorized) {
      secure.on("error", () => {}); // the client may reset while it is told why
      const presented = Object.keys(secure.getPeerCertificate()).length > 0;
      const reason = presented ? `client certificate refused: ${String(secure.authorizationError)}` : "client certificate required (mTLS)";
      const silent = setTimeout(() => this.refuse(reason), LINGER_MS).unref();
      secure.once("data", (chunk: Buffer) => {
        clearTimeout(silent);
        this.tell(secure, reason, chunk, "403 Forbidden");
      });
      return;
    }
    this.served = this.serve(secure);
  }

  /** A plaintext client of this TLS server. */
  private refusePlaintext(chunk: Buffer): void {
    this.tell(this.socket, PLAINTEXT_REFUSED, chunk, "400 Bad Request");
  }

  /** The transport's own refusal, else an HTTP `status` for an HTTP client (curl, Go Micro's HTTP transport), else just closed. */
  private tell(socket: net.Socket, reason: string, firstBytes: Buffer, status: string): void {
    if (this.protocol.tellRefused(socket, reason, firstBytes)) return this.refuse(reason, "warn", socket);
    if (looksLikeHttpRequest(firstBytes)) {
      const body = `${reason}\n`;
      socket.write(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return this.refuse(reason, "warn", socket);
    }
    this.refuse(reason);
  }

  /** Closes the connection with a logged reason; `linger`: let what was written to it arrive first. */
  refuse(reason: string, level: "debug" | "warn" = "warn", linger?: net.Socket): void {
    clearTimeout(this.timer);
    if (this.served || this.socket.destroyed) return;
    if (level === "warn") this.log.warn(`closing ${this.protocol.label} connection`, { remote: this.remote, reason }, reason.split(":")[0]);
    if (!linger) return void this.socket.destroy();
    linger.end();
    setTimeout(() => linger.destroy(), LINGER_MS).unref();
  }

  goAway(): void {
    if (this.served) return this.served.goAway();
    this.destroy();
  }

  destroy(): void {
    clearTimeout(this.timer);
    if (this.served) return this.served.destroy();
    this.socket.destroy();
  }
}

/** The client certificate of an mTLS connection whose certificate verified; undefined otherwise. */
function isTlsSocket(socket: net.Socket): socket is tls.TLSSocket {
  return (socket as Partial<tls.TLSSocket>).encrypted === true && typeof (socket as Partial<tls.TLSSocket>).getPeerCertificate === "function";
}

export function verifiedPeerCertificate(socket: net.Socket): PeerCertificate | undefined {
  // Asked of the socket rather than with instanceof, so that node:tls need not be loaded for a
  // plaintext socket (and sockets made by node:http2's secure server count as well).
  if (!isTlsSocket(socket) || !socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (Object.keys(cert).length === 0) return undefined;
  const cn = cert.subject?.CN;
  return {
    commonName: Array.isArray(cn) ? (cn[0] ?? "") : (cn ?? ""),
    subjectAltNames: cert.subjectaltname ? cert.subjectaltname.split(", ") : [],
    fingerprint256: cert.fingerprint256,
  };
}

/**
 * Opens a TLS connection to `host:port`, verifying the server's certificate against the CA and
 * presenting this node's certificate if it has one; `secureConnect` fires once the handshake is
 * done. With `verifyService` (and no `serverName`) the address is not checked against the
 * certificate: the service name is, per call (see serviceVerifier).
 */
export function connectTls(host: string, port: number, options: TlsOptions): tls.TLSSocket {
  const skipHostCheck = options.verifyService === true && !options.serverName;
  const socket = nodeTls().connect({
    host,
    port,
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    servername: options.serverName,
    ...(skipHostCheck ? { checkServerIdentity: () => undefined } : {}),
  });
  socket.setNoDelay(true);
  return socket;
}

/** The names a server certificate answers to: its `DNS:` subjectAltNames and its CN. */
export function certificateNames(cert: tls.PeerCertificate): Set<string> {
  const names = new Set<string>();
  const cn = cert.subject?.CN;
  for (const name of Array.isArray(cn) ? cn : [cn]) if (name) names.add(name);
  for (const entry of cert.subjectaltname ? cert.subjectaltname.split(", ") : []) if (entry.startsWith("DNS:")) names.add(entry.slice(4));
  return names;
}

/**
 * With `verifyService`, the check a connection runs before each call: NotDeliveredError unless
 * the server's certificate names the service (so the client tries another node). Undefined
 * when the option is off.
 */
export function serviceVerifier(socket: tls.TLSSocket, address: string, options: TlsOptions): ((service: string) => void) | undefined {
  if (!options.verifyService) return undefined;
  const names = certificateNames(socket.getPeerCertificate());
  return (service) => {
    if (names.has(service)) return;
    throw new NotDeliveredError(
      `dial ${address}: TLS: the server's certificate names ${[...names].join(", ") || "nothing"}, not the service ${service} (MICRO_TLS_VERIFY_SERVICE)`,
      address,
    );
  };
}
