/**
 * TLS and mTLS for the mux transport (`node:tls`). A secure transport serves TLS and dials TLS;
 * with `clientAuth: "require"` the server also asks each client for a certificate signed by the
 * CA and refuses clients without one (mTLS).
 *
 * The server reads a connection's first bytes before the handshake: a plaintext mux client is
 * told, in a mux GoAway it can read, that the server needs TLS, instead of seeing a reset.
 */
import type net from "node:net";
import tls from "node:tls";
import { ErrorId, MicroError } from "../../errors/errors.js";
import type { RateLimitedLog } from "../../logger/rate-limited.js";
import type { PeerCertificate } from "../../metadata/context.js";
import { MicroHeader } from "../../metadata/headers.js";
import { FrameType, PREFACE } from "../framing/frame.js";
import { FrameWriter } from "../framing/frame-writer.js";
import { encodeHeader } from "../framing/header-block.js";
import type { ServedConnection } from "../tcp.js";
import { joinHostPort } from "../tcp.js";
import type { MuxLimits } from "./options.js";

/** PEM text or bytes. */
export type Pem = string | Buffer;

export interface MuxTlsOptions {
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
}

/** A TLS record's first byte is its content type: 22 is a handshake (a ClientHello). */
const TLS_HANDSHAKE = 0x16;
/** How long a connection refused over a protocol mismatch may take to deliver the reason. */
const LINGER_MS = 1_000;

/** True when `bytes` start like a TLS record (type 20..23, major version 3). */
export function looksLikeTls(bytes: Buffer): boolean {
  return bytes.length >= 2 && bytes[0] >= 0x14 && bytes[0] <= 0x17 && bytes[1] === 0x03;
}

/**
 * The server half. Accepted sockets are handed to a `tls.Server` (never listening itself), so
 * the handshake and the client-certificate check are Node's own; the server asks for client
 * certificates but checks them here, after the handshake, so a refused mux client is told why.
 */
export class TlsServer {
  private readonly server: tls.Server;
  private readonly requireClientCert: boolean;
  /** Connections in their handshake, by remote address (unique among open connections). */
  private readonly handshakes = new Map<string, Handshake>();

  constructor(options: MuxTlsOptions) {
    if (!options.cert || !options.key) throw new Error("mux TLS: serving TLS needs a certificate and its key (cert and key; MICRO_TLS_CERT, MICRO_TLS_KEY)");
    this.requireClientCert = options.clientAuth === "require";
    this.server = tls.createServer({ cert: options.cert, key: options.key, ca: options.ca, requestCert: this.requireClientCert, rejectUnauthorized: false });
    this.server.on("secureConnection", (secure: tls.TLSSocket) => {
      const handshake = this.take(secure);
      if (handshake) handshake.secured(secure, this.requireClientCert);
      else secure.destroy(); // its connection was given up on meanwhile
    });
    this.server.on("tlsClientError", (err: Error, secure: tls.TLSSocket) => this.take(secure)?.refuse(`TLS handshake failed: ${err.message}`));
  }

  /**
   * Takes a freshly accepted socket through the TLS handshake and hands the secure socket to
   * `serve`. A handshake that fails or does not finish within the preface timeout closes only
   * this connection, with a logged reason.
   */
  accept(socket: net.Socket, limits: MuxLimits, log: RateLimitedLog, serve: (secure: tls.TLSSocket) => ServedConnection): ServedConnection {
    const handshake = new Handshake(socket, limits, log, serve, (raw) => {
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
    private readonly limits: MuxLimits,
    private readonly log: RateLimitedLog,
    private readonly serve: (secure: tls.TLSSocket) => ServedConnection,
    /** Starts the handshake on the socket (its first bytes put back). */
    private readonly startTls: (socket: net.Socket) => void,
  ) {
    this.remote = joinHostPort(socket.remoteAddress ?? "?", socket.remotePort ?? 0);
    this.timer = setTimeout(() => this.refuse(`no TLS handshake within ${limits.prefaceTimeout} ms`), limits.prefaceTimeout).unref();
    socket.once("data", this.onFirstBytes);
    socket.on("error", (err) => this.refuse(`socket error: ${err.message}`, "debug"));
  }

  private readonly onFirstBytes = (chunk: Buffer): void => {
    if (chunk[0] !== TLS_HANDSHAKE) return this.refusePlaintext(chunk);
    this.socket.pause();
    this.socket.unshift(chunk);
    this.startTls(this.socket);
  };

  /** The handshake is done: serve the connection, unless it lacks a client certificate that was required. */
  secured(secure: tls.TLSSocket, requireClientCert: boolean): void {
    clearTimeout(this.timer);
    if (requireClientCert && !secure.authorized) {
      secure.on("error", () => {}); // the client may reset while it is told why
      const presented = Object.keys(secure.getPeerCertificate()).length > 0;
      const reason = presented ? `client certificate refused: ${String(secure.authorizationError)}` : "client certificate required (mTLS)";
      return this.refuseWithGoAway(secure, reason);
    }
    this.served = this.serve(secure);
  }

  /** Tells a mux client why it is refused, in a GoAway it can read, then closes. */
  private refuseWithGoAway(socket: net.Socket, reason: string): void {
    const err = new MicroError(ErrorId.transport, 403, reason);
    const writer = new FrameWriter((bytes) => socket.write(bytes), this.limits);
    writer.push(FrameType.GoAway, 0, encodeHeader({ [MicroHeader.Error]: err.toString() }), Buffer.alloc(0));
    writer.flush();
    this.refuse(reason, "warn", socket);
  }

  /**
   * A plaintext mux client gets a GoAway saying why, a plaintext HTTP client (Go Micro's HTTP
   * transport, curl) a 400 saying why; anything else is just closed.
   */
  private refusePlaintext(chunk: Buffer): void {
    const reason = "plaintext client: this server requires TLS (MICRO_TRANSPORT_SECURE=true)";
    const muxClient = PREFACE.subarray(0, Math.min(chunk.length, PREFACE.length)).equals(chunk.subarray(0, PREFACE.length));
    if (muxClient) return this.refuseWithGoAway(this.socket, reason);
    if (/^[A-Z]+ /.test(chunk.subarray(0, 8).toString("latin1"))) {
      const body = `${reason}\n`;
      this.socket.write(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return this.refuse(reason, "warn", this.socket);
    }
    this.refuse(reason);
  }

  /** Closes the connection with a logged reason; `linger`: let what was written to it arrive first. */
  refuse(reason: string, level: "debug" | "warn" = "warn", linger?: net.Socket): void {
    clearTimeout(this.timer);
    if (this.served || this.socket.destroyed) return;
    if (level === "warn") this.log.warn("closing mux connection", { remote: this.remote, reason }, reason.split(":")[0]);
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
export function verifiedPeerCertificate(socket: net.Socket): PeerCertificate | undefined {
  if (!(socket instanceof tls.TLSSocket) || !socket.authorized) return undefined;
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
 * presenting this node's certificate if it has one; `secureConnect` fires once the handshake is done.
 */
export function connectTls(host: string, port: number, options: MuxTlsOptions): tls.TLSSocket {
  const socket = tls.connect({ host, port, ca: options.ca, cert: options.cert, key: options.key, servername: options.serverName });
  socket.setNoDelay(true);
  return socket;
}
