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

/** The options with their defaults filled in: what each connection works with. */
export interface MuxLimits extends FrameLimits {
  readonly streamWindow: number;
  readonly dialTimeout: number;
  readonly probeTimeout: number;
}

export function muxLimits(options: MuxOptions): MuxLimits {
  return {
    maxFrameSize: options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
    maxHeaderCount: options.maxHeaderCount ?? DEFAULT_MAX_HEADER_COUNT,
    maxHeaderBytes: options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
    streamWindow: options.streamWindow ?? DEFAULT_STREAM_WINDOW,
    dialTimeout: options.dialTimeout ?? 5_000,
    probeTimeout: options.probeTimeout ?? 2_000,
  };
}
