/**
 * The mux transport's options and the limits both ends of a connection resolve them to. Every
 * resource a peer can make a connection hold has a limit here (see docs/mux.md).
 */
import type net from "node:net";
import type { Logger } from "../../logger/logger.js";
import { DEFAULT_MAX_FRAME_SIZE } from "../framing/frame.js";
import type { FrameLimits } from "../framing/frame-reader.js";
import { DEFAULT_STREAM_WINDOW } from "../framing/framed-stream.js";
import { DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_HEADER_COUNT } from "../framing/header-block.js";
import type { ServedConnection } from "../tcp.js";
import type { ListenOptions } from "../transport.js";
import { DEFAULT_REF_SLOTS } from "./header-refs.js";
import type { MuxTlsOptions } from "./tls.js";

export interface MuxOptions {
  /** Largest frame accepted or sent, in bytes (default 4 MiB). */
  maxFrameSize?: number;
  /** Most headers in one frame, sent or accepted (default 128). */
  maxHeaderCount?: number;
  /** Largest header block of one frame accepted, in bytes (default 64 KiB). */
  maxHeaderBytes?: number;
  /** Bytes of stream messages a receiver may have unread, per stream and direction (default 1 MiB). */
  streamWindow?: number;
  /** Milliseconds to wait for a TCP connection (default 5 s). */
  dialTimeout?: number;
  /**
   * While calls are in flight on a client connection and nothing has arrived for this many ms,
   * the client pings the server (default 1 s; 0: only after a call times out).
   */
  pingInterval?: number;
  /**
   * How long a client waits for anything (a pong) after a ping. No answer means the peer is gone
   * (a frozen process, a network partition: no reset ever arrives): the connection is dropped and
   * its calls fail with ConnectionLostError, so later calls go elsewhere (default 2 s). A client
   * also pings after a call times out.
   */
  probeTimeout?: number;
  /** Milliseconds a new connection has to send the mux preface (default 10 s). */
  prefaceTimeout?: number;
  /** Milliseconds a frame may take to arrive in full once its first bytes have (default 30 s). */
  frameTimeout?: number;
  /** Milliseconds a server keeps a connection with nothing in flight and no frames (default 5 min). */
  idleTimeout?: number;
  /** Connections a listener serves at once; more are closed as they arrive, with a log line (default 1,000). */
  maxConnections?: number;
  /** Calls and streams in flight on one connection; more are refused, safe to retry (default 10,000). */
  maxCallsPerConnection?: number;
  /**
   * Bytes of replies a server queues for a client that does not read them. Past 1 MiB (or a
   * quarter of this, if less) the server stops reading that connection's requests until the
   * client catches up; past this, it closes the connection (default 64 MiB).
   */
  maxReplyBuffer?: number;
  /** Bytes all of a listener's connections may hold in partly received frames (default 128 MiB). */
  maxPartialFrameBytes?: number;
  /** Milliseconds between log lines about the same limit being hit (default 10 s). */
  limitLogInterval?: number;
  /**
   * Header references (see header-refs.ts and docs/mux.md): how many large header values (a
   * bearer token) a server keeps per connection so that a client sends each once and then by
   * reference (default 8). 0 turns references off at both ends, as in versions without them:
   * a server does not offer them and a client does not ask (`MICRO_MUX_HEADER_REFS=false`).
   */
  headerRefSlots?: number;
  logger?: Logger;
  /**
   * Serve and dial TLS (see tls.ts and docs/auth.md, "Transport security"). Every node of a
   * system must agree: a plaintext client is refused by a TLS server, and the other way round.
   */
  tls?: MuxTlsOptions;
  /**
   * Called with a connection whose first bytes are not the mux preface. Returns the connection
   * when it took the socket over (the HTTP transport uses this to answer Go Micro clients on the
   * same port); the listener then stops and drops it through that handle.
   */
  sniff?: (socket: net.Socket, firstBytes: Buffer, options: ListenOptions) => SniffedConnection | undefined;
}

/** A connection on a mux port served by something else (see MuxOptions.sniff). */
export type SniffedConnection = ServedConnection;

/** The options with their defaults filled in: what each connection works with. */
export interface MuxLimits extends FrameLimits {
  readonly streamWindow: number;
  readonly dialTimeout: number;
  readonly pingInterval: number;
  readonly probeTimeout: number;
  readonly prefaceTimeout: number;
  readonly frameTimeout: number;
  readonly idleTimeout: number;
  readonly maxConnections: number;
  readonly maxCallsPerConnection: number;
  readonly maxReplyBuffer: number;
  /** Queued reply bytes at which a server stops reading a connection's requests. */
  readonly pauseReadingAt: number;
  readonly maxPartialFrameBytes: number;
  readonly limitLogInterval: number;
  readonly headerRefSlots: number;
}

export function muxLimits(options: MuxOptions): MuxLimits {
  const maxReplyBuffer = options.maxReplyBuffer ?? 64 * 1024 * 1024;
  return {
    maxFrameSize: options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
    maxHeaderCount: options.maxHeaderCount ?? DEFAULT_MAX_HEADER_COUNT,
    maxHeaderBytes: options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
    streamWindow: options.streamWindow ?? DEFAULT_STREAM_WINDOW,
    dialTimeout: options.dialTimeout ?? 5_000,
    pingInterval: options.pingInterval ?? 1_000,
    probeTimeout: options.probeTimeout ?? 2_000,
    prefaceTimeout: options.prefaceTimeout ?? 10_000,
    frameTimeout: options.frameTimeout ?? 30_000,
    idleTimeout: options.idleTimeout ?? 5 * 60_000,
    maxConnections: options.maxConnections ?? 1_000,
    maxCallsPerConnection: options.maxCallsPerConnection ?? 10_000,
    maxReplyBuffer,
    pauseReadingAt: Math.min(1024 * 1024, maxReplyBuffer / 4),
    maxPartialFrameBytes: options.maxPartialFrameBytes ?? 128 * 1024 * 1024,
    limitLogInterval: options.limitLogInterval ?? 10_000,
    headerRefSlots: Math.max(0, Math.floor(options.headerRefSlots ?? DEFAULT_REF_SLOTS)),
  };
}
