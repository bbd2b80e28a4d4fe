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
