/**
 * `mux`, the default transport: one TCP connection carries any number of concurrent calls as
 * length-prefixed frames (see framing/frame.ts), written in batches. The client end of a
 * connection is client.ts, the server end server.ts, the rules each end checks protocol.ts and
 * the options options.ts. Garbage or oversize input closes only the connection it arrived on,
 * with a logged reason.
 */
import net from "node:net";
import type tls from "node:tls";
import { type Logger, logger } from "../../logger/logger.js";
import { RateLimitedLog } from "../../logger/rate-limited.js";
import { joinHostPort, listenTcp, splitHostPort } from "../tcp.js";
import { type ClientConnection, type Listener, type ListenOptions, NotDeliveredError, type Transport } from "../transport.js";
import { MuxClientConnection, SocketReads } from "./client.js";
import { type MuxLimits, type MuxOptions, muxLimits } from "./options.js";
import { ServerConnection, type ServerContext } from "./server.js";
import { connectTls, muxTlsProtocol, serviceVerifier, TlsServer } from "./tls.js";

export type { MuxOptions, SniffedConnection } from "./options.js";
export type { MuxTlsOptions, Pem } from "./tls.js";
export { joinHostPort, splitHostPort };

/** TCP keepalive on every mux socket: the kernel notices dead peers on idle connections. */
const KEEPALIVE_MS = 15_000;

/** How often a listener checks its connections' timeouts: a quarter of the shortest, within 10 ms .. 1 s. */
function watchdogInterval(limits: MuxLimits): number {
  return Math.min(1_000, Math.max(10, Math.min(limits.prefaceTimeout, limits.frameTimeout, limits.idleTimeout) / 4));
}

export class MuxTransport implements Transport {
  readonly name = "mux";
  readonly limits: MuxLimits;
  /** True when this transport serves and dials TLS; its nodes advertise `secure: "true"`. */
  readonly secure: boolean;
  private readonly log: Logger;

  constructor(private readonly options: MuxOptions = {}) {
    this.limits = muxLimits(options);
    this.log = options.logger ?? logger();
    this.secure = options.tls !== undefined;
  }

  async listen(address: string, options: ListenOptions): Promise<Listener> {
    const limits = this.limits;
    const tlsServer = this.options.tls && new TlsServer(this.options.tls, muxTlsProtocol(limits));
    const limitLog = new RateLimitedLog(this.log, limits.limitLogInterval);
    const context: ServerContext = {
      limits,
      log: this.log,
      limitLog,
      partialFrames: { limit: limits.maxPartialFrameBytes, used: 0 },
      listenOptions: options,
      sniff: this.options.sniff,
    };
    const connections = new Set<ServerConnection>();
    const forget = (conn: ServerConnection): void => void connections.delete(conn);
    const listener = await listenTcp(
      address,
      (socket) => {
        socket.setKeepAlive(true, KEEPALIVE_MS);
        const serve = (served: net.Socket): ServerConnection => {
          const conn = new ServerConnection(served, context, forget);
          connections.add(conn);
          return conn;
        };
        return tlsServer ? tlsServer.accept(socket, limits.prefaceTimeout, limitLog, serve) : serve(socket);
      },
      this.log,
      "mux",
      {
        maxConnections: limits.maxConnections,
        refused: (remote) => limitLog.warn("mux connection refused: connection limit reached", { remote, limit: limits.maxConnections }),
      },
    );
    const watchdog = setInterval(() => {
      const now = Date.now();
      for (const conn of connections) conn.check(now);
    }, watchdogInterval(limits)).unref();
    return {
      address: listener.address,
      // Connections finishing their calls after close() are still watched until they are gone.
      close: () => listener.close().finally(() => clearInterval(watchdog)),
      destroy: () => {
        clearInterval(watchdog);
        listener.destroy();
      },
    };
  }

  dial(address: string, options: { timeout?: number } = {}): Promise<ClientConnection> {
    const { host, port } = splitHostPort(address);
    const timeout = options.timeout ?? this.limits.dialTimeout;
    return new Promise((resolve, reject) => {
      const secure = this.options.tls;
      let socket: net.Socket | tls.TLSSocket;
      let reads: SocketReads | undefined; // plain TCP: reads without the stream machinery (see SocketReads)
      if (secure) socket = connectTls(host || "127.0.0.1", port, secure);
      else {
        reads = new SocketReads();
        socket = net.connect({ host: host || "127.0.0.1", port, noDelay: true, onread: reads.onread });
      }
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new NotDeliveredError(`dial ${address}: timed out after ${timeout} ms`, address));
      }, timeout);
      socket.once("error", (err) => {
        clearTimeout(timer);
        socket.destroy();
        const plaintextPeer = secure && /disconnected before secure TLS connection|ECONNRESET|wrong version number/.test(err.message);
        const hint = plaintextPeer ? " (is the server plaintext? TLS is on in this client: MICRO_TRANSPORT_SECURE=true)" : "";
        reject(new NotDeliveredError(`dial ${address}: ${secure ? "TLS: " : ""}${err.message}${hint}`, address));
      });
      socket.once(secure ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        socket.setKeepAlive(true, KEEPALIVE_MS);
        const conn = new MuxClientConnection(socket, address, this.limits, this.log, reads);
        if (secure) conn.verifyService = serviceVerifier(socket as tls.TLSSocket, address, secure);
        resolve(conn);
      });
    });
  }
}
