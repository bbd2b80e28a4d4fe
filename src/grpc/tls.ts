/**
 * gRPC over TLS, with the transports' TLS settings (../transport/tls.ts, MICRO_TLS_*): the server
 * is node:http2's secure server (ALPN `h2`), the client dials `https`. As on mux and the HTTP
 * transport, refusals say why in the client's own protocol instead of a bare reset:
 *
 * - a plaintext gRPC client (its first bytes are not a TLS record) gets an HTTP/2 answer on that
 *   connection: every call ends with UNAVAILABLE "plaintext client: this server requires TLS";
 * - under mTLS (`clientAuth: "require"`) the handshake completes without a verified client
 *   certificate, and every call on that connection ends with UNAUTHENTICATED and the reason
 *   ("client certificate required (mTLS)" or "client certificate refused: …").
 *
 * A verified client certificate becomes the call's `ctx.caller.certificate`, which auth turns
 * into an account (auth/mtls.ts), as on the other transports.
 */
import http2 from "node:http2";
import net from "node:net";
import type tls from "node:tls";
import type { Logger } from "../logger/logger.js";
import { RateLimitedLog } from "../logger/rate-limited.js";
import type { PeerCertificate } from "../metadata/context.js";
import { looksLikeTls, PLAINTEXT_REFUSED, type TlsOptions, verifiedPeerCertificate } from "../transport/tls.js";
import { encodeGrpcMessage, GrpcCode } from "./status.js";

/** How long a refused connection stays open so that its answers reach the client. */
const LINGER_MS = 1_000;
/** How long a new connection may take to send its first bytes (as mux's preface timeout). */
const FIRST_BYTES_TIMEOUT = 10_000;

/**
 * A net.Server that reads each connection's first bytes: a TLS ClientHello goes to `secure`,
 * anything else to a plaintext HTTP/2 server that only refuses. Returns the net.Server to listen on.
 */
export function tlsFront(secure: http2.Http2SecureServer, log: Logger): net.Server {
  const refusals = new RateLimitedLog(log);
  const plaintext = http2.createServer();
  plaintext.on("session", (session) => {
    session.on("error", () => {});
    refusals.warn("closing grpc connection", { remote: session.socket?.remoteAddress, reason: PLAINTEXT_REFUSED }, "plaintext");
    setTimeout(() => session.destroy(), LINGER_MS).unref();
  });
  plaintext.on("stream", (stream) => refuseStream(stream, GrpcCode.UNAVAILABLE, PLAINTEXT_REFUSED));
  return net.createServer((socket) => {
    socket.on("error", () => {});
    // A connection that says nothing is not kept open (the handshake then has Node's own timeout).
    socket.setTimeout(FIRST_BYTES_TIMEOUT, () => socket.destroy());
    socket.once("data", (chunk: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(chunk);
      (looksLikeTls(chunk) ? secure : plaintext).emit("connection", socket);
    });
  });
}

/** node:http2's secure server with the transports' TLS options; client certificates are checked per session (refusedReason). */
export function secureHttp2Server(options: TlsOptions, settings: http2.Settings): http2.Http2SecureServer {
  if (!options.cert || !options.key) throw new Error("grpc TLS: serving TLS needs a certificate and its key (cert and key; MICRO_TLS_CERT, MICRO_TLS_KEY)");
  return http2.createSecureServer({
    cert: options.cert,
    key: options.key,
    ca: options.ca,
    requestCert: options.clientAuth === "require",
    // Checked after the handshake, so that a refused client is told why (see refusedReason).
    rejectUnauthorized: false,
    ALPNProtocols: ["h2"],
    allowHTTP1: false,
    settings,
  });
}

/** Why a session of an mTLS server may not make calls; undefined when it may. */
export function refusedReason(session: http2.ServerHttp2Session, options: TlsOptions | undefined): string | undefined {
  if (options?.clientAuth !== "require") return undefined;
  const socket = session.socket as tls.TLSSocket;
  if (socket.authorized) return undefined;
  const presented = Object.keys(socket.getPeerCertificate?.() ?? {}).length > 0;
  return presented ? `client certificate refused: ${String(socket.authorizationError)}` : "client certificate required (mTLS)";
}

/** The verified client certificate of a session (undefined without mTLS), read once per session. */
export function sessionCertificate(session: http2.Http2Session | undefined): PeerCertificate | undefined {
  if (!session) return undefined;
  let known = certificates.get(session);
  if (!known) {
    known = { certificate: session.encrypted ? verifiedPeerCertificate(session.socket) : undefined };
    certificates.set(session, known);
  }
  return known.certificate;
}
const certificates = new WeakMap<http2.Http2Session, { certificate: PeerCertificate | undefined }>();

/** Ends a stream at once with a gRPC status (trailers-only). */
export function refuseStream(stream: http2.ServerHttp2Stream, code: number, message: string): void {
  stream.on("error", () => {});
  if (stream.destroyed) return;
  stream.respond(
    { ":status": 200, "content-type": "application/grpc", "grpc-status": String(code), "grpc-message": encodeGrpcMessage(message) },
    { endStream: true },
  );
}

/** Connection options for dialling a TLS gRPC server at `host`. */
export function secureConnectOptions(options: TlsOptions): http2.SecureClientSessionOptions {
  const skipHostCheck = options.verifyService === true && !options.serverName;
  return {
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    ALPNProtocols: ["h2"],
    ...(options.serverName ? { servername: options.serverName } : {}),
    ...(skipHostCheck ? { checkServerIdentity: () => undefined } : {}),
  };
}
