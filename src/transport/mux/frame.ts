/**
 * The mux wire format. After an 8-byte preface from the client, both sides exchange frames:
 *
 *   u32 length     bytes after this field (so a frame is 4 + length bytes)
 *   u8  type       FrameType
 *   u8  flags      FrameFlag bits (Request: STREAM opens a stream rather than a unary call)
 *   u32 stream     call id, chosen by the client (odd numbers), 0 for connection-level frames
 *   u32 headerLen  bytes of the header block
 *   header block   UTF-8 "key\0value\0key\0value" (header keys and values never contain NUL)
 *   body           the rest
 *
 * Many frames are written into one buffer and flushed with one socket write.
 */
import type { Header, Message } from "../transport.js";

export const PREFACE = Buffer.from("TSMUX/1\n", "latin1");
export const FRAME_PREFIX = 14; // length + type + flags + stream + headerLen

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

const EMPTY_HEADER = "";

export function encodeHeader(header: Header): string {
  let out = EMPTY_HEADER;
  for (const key in header) {
    out += out.length === 0 ? `${key}\0${header[key]}` : `\0${key}\0${header[key]}`;
  }
  return out;
}

/**
 * Decodes the header block in `buf` from `start` to `end`. Straight from the frame's bytes, with
 * names and repeated values taken from a small cache: splitting a decoded block made a dozen
 * strings per call, most of a server's garbage per request.
 */
export function decodeHeader(buf: Buffer, start = 0, end = buf.length): Header {
  const header: Header = {};
  if (start >= end) return header;
  let key: string | undefined;
  let from = start;
  let hash = FNV_OFFSET;
  let ascii = true;
  for (let i = start; i <= end; i++) {
    const byte = i < end ? buf[i] : 0;
    if (byte !== 0) {
      hash = Math.imul(hash ^ byte, FNV_PRIME);
      if (byte >= 0x80) ascii = false;
      continue;
    }
    const text = ascii ? headerText(buf, from, i, hash) : buf.toString("utf8", from, i);
    if (key === undefined) key = text;
    else {
      header[key] = text;
      key = undefined;
    }
    from = i + 1;
    hash = FNV_OFFSET;
    ascii = true;
  }
  return header;
}

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 16777619;
const CACHE_SLOTS = 256; // a power of two
const cache: string[] = new Array<string>(CACHE_SLOTS).fill("");

/**
 * The ASCII string of `buf[start, end)` (whose FNV-1a hash is `hash`), from the cache when it
 * holds the same bytes. Header names, service, endpoint and Content-Type repeat on every call.
 * Text starting with a digit (call ids, timeouts) changes per call and is not cached: kept in
 * a long-lived table, fresh strings would survive collections they should not.
 */
function headerText(buf: Buffer, start: number, end: number, hash: number): string {
  const length = end - start;
  if (length === 0) return "";
  const first = buf[start];
  if (first >= 0x30 && first <= 0x39) return buf.toString("latin1", start, end);
  const slot = hash & (CACHE_SLOTS - 1);
  const cached = cache[slot];
  if (cached.length === length && sameText(cached, buf, start)) return cached;
  return (cache[slot] = buf.toString("latin1", start, end));
}

function sameText(text: string, buf: Buffer, start: number): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== buf[start + i]) return false;
  return true;
}

/** At least the UTF-8 size of a header block (3 bytes per UTF-16 unit is UTF-8's worst case). */
export function headerBound(header: Header): number {
  let units = 0;
  for (const key in header) units += key.length + header[key].length + 2;
  return units * 3;
}

/**
 * Writes a header block into `buf` at `at` and returns where it ends. Header names and values
 * are nearly always ASCII, copied by a byte loop; any other string is encoded by Buffer.write.
 * The caller has reserved headerBound(header) bytes.
 */
export function writeHeader(buf: Buffer, at: number, header: Header): number {
  let first = true;
  for (const key in header) {
    if (!first) buf[at++] = 0;
    first = false;
    at = writeText(buf, at, key);
    buf[at++] = 0;
    at = writeText(buf, at, header[key]);
  }
  return at;
}

function writeText(buf: Buffer, at: number, text: string): number {
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return at + buf.write(text, at, "utf8");
    buf[at + i] = code;
  }
  return at + length;
}

/** Size of a frame on the wire, for the frame-size check before anything is written. */
export function frameSize(headerText: string, body: Uint8Array): number {
  return FRAME_PREFIX + Buffer.byteLength(headerText) + body.length;
}

/**
 * Accumulates encoded frames and writes them in one batch. Frames are encoded straight into a
 * slab; a flush hands the filled part to the socket and keeps filling the rest of the slab, so a
 * busy connection allocates one slab per ~64 KiB of output rather than one buffer per frame.
 */
/**
 * A write as soon as this much is buffered. At 64 calls in flight on one connection, writing only
 * at the end of the tick made client and server take turns (one batch of 64 each way); writing
 * every ~4 KiB overlaps them and about doubled calls/s on two cores. Larger values lose that
 * overlap, smaller ones pay for more write(2) calls.
 */
const EAGER_FLUSH_BYTES = 4096;
export class FrameWriter {
  private slab = Buffer.allocUnsafe(64 * 1024);
  private start = 0; // first byte not yet handed to the socket
  private end = 0; // first free byte
  private scheduled = false;

  /**
   * @param eagerFlushBytes once this much is buffered it is written at once rather than at the
   *   end of the tick, so the peer starts on the first frames of a burst while the rest are still
   *   being produced: both processes work at the same time instead of taking turns.
   */
  constructor(
    private readonly write: (chunk: Buffer) => void,
    private readonly eagerFlushBytes = EAGER_FLUSH_BYTES,
  ) {}

  push(type: FrameType, stream: number, headerText: string, body: Uint8Array, flags = 0): void {
    const headerLen = headerText.length === 0 ? 0 : Buffer.byteLength(headerText);
    this.reserve(FRAME_PREFIX + headerLen + body.length);
    const headerStart = this.end + FRAME_PREFIX;
    if (headerLen > 0) this.slab.write(headerText, headerStart, headerLen, "utf8");
    this.finish(type, stream, flags, headerStart + headerLen, body);
  }

  /**
   * Like push, but writes the header block straight from the header object, without building
   * its text first: the client's request path, where a string per call was most of the garbage.
   */
  pushHeader(type: FrameType, stream: number, header: Header, body: Uint8Array, flags = 0): void {
    this.reserve(FRAME_PREFIX + headerBound(header) + body.length);
    this.finish(type, stream, flags, writeHeader(this.slab, this.end + FRAME_PREFIX, header), body);
  }

  /** Fills in the prefix of the frame whose header block ends at `headerEnd`, then copies the body. */
  private finish(type: FrameType, stream: number, flags: number, headerEnd: number, body: Uint8Array): void {
    const buf = this.slab;
    const at = this.end;
    const end = headerEnd + body.length;
    buf.writeUInt32BE(end - at - 4, at);
    buf[at + 4] = type;
    buf[at + 5] = flags;
    buf.writeUInt32BE(stream, at + 6);
    buf.writeUInt32BE(headerEnd - at - FRAME_PREFIX, at + 10);
    if (body.length > 0) buf.set(body, headerEnd);
    this.end = end;
    if (this.end - this.start >= this.eagerFlushBytes) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flush);
    }
  }

  pushMessage(type: FrameType, stream: number, message: Message, flags = 0): void {
    this.push(type, stream, encodeHeader(message.header), message.body, flags);
  }

  readonly flush = (): void => {
    this.scheduled = false;
    if (this.end === this.start) return;
    const chunk = this.slab.subarray(this.start, this.end);
    this.start = this.end;
    this.write(chunk);
  };

  private reserve(size: number): void {
    if (this.slab.length - this.end >= size) return;
    // Hand what is buffered to the socket first; the socket keeps a reference to it, so the
    // next frames go into a fresh slab.
    this.flush();
    this.slab = Buffer.allocUnsafe(Math.max(64 * 1024, size));
    this.start = 0;
    this.end = 0;
  }
}

export type FrameErrorReason = string;

/**
 * Splits an incoming byte stream into frames. Returns a reason string when the input is not a
 * valid frame stream (the caller closes the connection); otherwise delivers each frame.
 */
export class FrameReader {
  private pending: Buffer | undefined;

  constructor(
    private readonly maxFrameSize: number,
    private readonly onFrame: (frame: Frame) => void,
  ) {}

  /** Feeds bytes; returns an error reason if the stream is malformed. */
  push(chunk: Buffer): FrameErrorReason | undefined {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let at = 0;
    while (buf.length - at >= 4) {
      const length = buf.readUInt32BE(at);
      if (length + 4 > this.maxFrameSize) return `frame of ${length + 4} bytes exceeds the maximum of ${this.maxFrameSize}`;
      if (length < FRAME_PREFIX - 4) return `frame of ${length + 4} bytes is shorter than a frame header`;
      if (buf.length - at < length + 4) break;
      const type = buf[at + 4] as FrameType;
      if (type < FrameType.Request || type > LAST_FRAME_TYPE) return `unknown frame type ${type}`;
      const stream = buf.readUInt32BE(at + 6);
      const headerLen = buf.readUInt32BE(at + 10);
      const headerStart = at + FRAME_PREFIX;
      const bodyStart = headerStart + headerLen;
      const frameEnd = at + 4 + length;
      if (bodyStart > frameEnd) return `header block of ${headerLen} bytes overruns its frame`;
      this.onFrame({
        type,
        flags: buf[at + 5],
        stream,
        header: decodeHeader(buf, headerStart, bodyStart),
        body: buf.subarray(bodyStart, frameEnd),
      });
      at = frameEnd;
    }
    if (at < buf.length) this.pending = at === 0 ? buf : buf.subarray(at);
    return undefined;
  }
}
