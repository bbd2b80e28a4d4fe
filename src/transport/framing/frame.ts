/**
 * Frames: the unit every framed transport (mux over TCP, NATS, memory streams) moves. A frame has
 * a type, flags, a stream (call) id, a header block and a body. How frames are delimited on the
 * wire is the transport's: mux writes them on a byte stream as
 *
 *   u32 length     bytes after this field (so a frame is 4 + length bytes)
 *   u8  type       FrameType
 *   u8  flags      FrameFlag bits (Request: STREAM opens a stream rather than a unary call)
 *   u32 stream     call id, chosen by the client (odd numbers), 0 for connection-level frames
 *   u32 headerLen  bytes of the header block
 *   header block   UTF-8 "key\0value\0key\0value" (see header-block.ts)
 *   body           the rest
 *
 * after an 8-byte preface from the client (FrameReader, FrameWriter); NATS delimits messages
 * itself (see nats/wire.ts).
 */
import type { Header } from "../transport.js";

export const PREFACE = Buffer.from("TSMUX/1\n", "latin1");
/** Bytes before the header block on a byte stream: length + type + flags + stream + headerLen. */
export const FRAME_PREFIX = 14;

export const enum FrameType {
  Request = 1,
  Response = 2,
  Cancel = 3,
  /** Server → client: the server is stopping; send new calls elsewhere. Calls in flight complete. */
  GoAway = 4,
  /** Server → client: this request was not processed (server stopping); safe to retry elsewhere. */
  Refused = 5,
  Ping = 6,
  Pong = 7,
  /** A stream message, either direction. */
  Data = 8,
  /** The sender's last word on a stream; a `Micro-Error` header ends the stream with that error. */
  End = 9,
  /** Flow control: the body (u32) is how many more bytes the receiver of this frame may send. */
  Window = 10,
}

export const LAST_FRAME_TYPE = FrameType.Window;

export const enum FrameFlag {
  Stream = 1,
}

export interface Frame {
  type: FrameType;
  flags: number;
  stream: number;
  header: Header;
  body: Buffer;
}

export const DEFAULT_MAX_FRAME_SIZE = 4 * 1024 * 1024;

/** Size of a frame on a byte stream, for the frame-size check before anything is written. */
export function frameSize(headerText: string, body: Uint8Array): number {
  return FRAME_PREFIX + Buffer.byteLength(headerText) + body.length;
}

/**
 * The big-endian u32 at `at` (a frame's length, stream and header length fields). Byte by byte
 * rather than Buffer's readUInt32BE: V8's optimized code finds that method through a generic
 * property lookup on every call (~80 instructions each, a dozen per call between client and
 * server), while it compiles element access inline.
 */
export function readU32(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
}

/** Writes `value` (0 ≤ value < 2³²) big-endian at `at`; see readU32. */
export function writeU32(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value >>> 24;
  buf[at + 1] = value >>> 16;
  buf[at + 2] = value >>> 8;
  buf[at + 3] = value;
}
