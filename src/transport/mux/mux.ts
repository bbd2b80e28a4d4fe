/**
 * `mux`, the default transport: one TCP connection carries any number of concurrent calls as
 * length-prefixed frames (see framing/frame.ts), written in batches. The client end is
 * client.ts, the server end server.ts. Garbage or oversize input closes only
 * the connection it arrived on, with a logged reason.
 */
import net from "node:net";
import { logger, type Logger } from "../../logger/logger.js";
import { DEFAULT_MAX_FRAME_SIZE } from "../framing/frame.js";
import { DEFAULT_STREAM_WINDOW } from "../framing/framed-stream.js";
import { joinHostPort, listenTcp, type ServedConnection, splitHostPort } from "../tcp.js";
import { type ClientConnection, type Listener, type ListenOptions, NotDeliveredError, type Transport } from "../transport.js";
import { MuxClientConnection } from "./client.js";
import { ServerConnection } from "./server.js";

export { joinHostPort, splitHostPort };

export interface MuxOptions {
  /** Largest frame accepted or sent, in bytes (default 4 MiB). */
  maxFrameSize?: number;
  /** Bytes of stream messages a receiver may have unread, per stream and direction (default 1 MiB). */
  streamWindow?: number;
  /** Milliseconds to wait for a TCP connection (default 5 s). */
  dialTimeout?: number;
  /**
   * After a call times out, the client pings the connection; no answer within this many ms means
   * the peer is gone (e.g. a network partition, where no reset ever arrives) and the connection
   * is dropped so later calls go elsewhere (default 2 s).
   */
  probeTimeout?: number;
  logger?: Logger;
  /**
   * Called with a connection whose first bytes are not the mux preface. Returns the connection
   * when it took the socket over (the HTTP transport uses this to answer Go Micro clients on the
   * same port); the listener then stops and drops it through that handle.
   */
  sniff?: (socket: net.Socket, firstBytes: Buffer, options: ListenOptions) => SniffedConnection | undefined;
}

/** A connection on a mux port served by something else (see MuxOptions.sniff). */
export type SniffedConnection = ServedConnection;

export class MuxTransport implements Transport {
  readonly name = "mux";
  readonly maxFrameSize: number;
  readonly streamWindow: number;
  readonly probeTimeout: number;
  private readonly dialTimeout: number;
  private readonly log: Logger;

  constructor(private readonly options: MuxOptions = {}) {
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.streamWindow = options.streamWindow ?? DEFAULT_STREAM_WINDOW;
    this.dialTimeout = options.dialTimeout ?? 5_000;
    this.probeTimeout = options.probeTimeout ?? 2_000;
    this.log = options.logger ?? logger();
  }

  listen(address: string, options: ListenOptions): Promise<Listener> {
    return listenTcp(
      address,
      (socket) => {
        socket.setKeepAlive(true, KEEPALIVE_MS);
        return new ServerConnection(socket, options, this, this.log, this.options.sniff);
      },
      this.log,
      "mux",
    );
  }

  dial(address: string, options: { timeout?: number } = {}): Promise<ClientConnection> {
    const { host, port } = splitHostPort(address);
    const timeout = options.timeout ?? this.dialTimeout;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: host || "127.0.0.1", port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new NotDeliveredError(`dial ${address}: timed out after ${timeout} ms`, address));
      }, timeout);
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(new NotDeliveredError(`dial ${address}: ${err.message}`, address));
      });
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        socket.setKeepAlive(true, KEEPALIVE_MS);
        resolve(new MuxClientConnection(socket, address, this, this.log));
      });
    });
  }
}

/** Limits shared by both ends of a mux connection. */
export interface MuxLimits {
  readonly maxFrameSize: number;
  readonly streamWindow: number;
  readonly probeTimeout: number;
}

/** TCP keepalive on every mux socket: the kernel notices dead peers on idle connections. */
const KEEPALIVE_MS = 15_000;

