/** Splits a byte stream into frames (see frame.ts for the layout). */
import { type Frame, FRAME_PREFIX, FrameType, LAST_FRAME_TYPE } from "./frame.js";
import { decodeHeader } from "./header-block.js";

export type FrameErrorReason = string;

/** What a reader accepts: larger frames or header blocks are errors, not allocations. */
export interface FrameLimits {
  /** Largest frame, prefix included. */
  readonly maxFrameSize: number;
  /** Most headers in one frame's header block. */
  readonly maxHeaderCount: number;
  /** Largest header block, in bytes. */
  readonly maxHeaderBytes: number;
}

/**
 * Splits an incoming byte stream into frames. Returns a reason string when the input is not a
 * valid frame stream (the caller closes the connection); otherwise delivers each frame.
 */
export class FrameReader {
  private pending: Buffer | undefined;

  constructor(
    private readonly limits: FrameLimits,
    private readonly onFrame: (frame: Frame) => void,
  ) {}

  /** Feeds bytes; returns an error reason if the stream is malformed. */
  push(chunk: Buffer): FrameErrorReason | undefined {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let at = 0;
    while (buf.length - at >= 4) {
      const length = buf.readUInt32BE(at);
      if (length + 4 > this.limits.maxFrameSize) return `frame of ${length + 4} bytes exceeds the maximum of ${this.limits.maxFrameSize}`;
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
      if (headerLen > this.limits.maxHeaderBytes) return `header block of ${headerLen} bytes exceeds the maximum of ${this.limits.maxHeaderBytes}`;
      const header = decodeHeader(buf, headerStart, bodyStart, this.limits.maxHeaderCount);
      if (typeof header === "string") return `bad header block on stream ${stream}: ${header}`;
      this.onFrame({ type, flags: buf[at + 5], stream, header, body: buf.subarray(bodyStart, frameEnd) });
      at = frameEnd;
    }
    if (at < buf.length) this.pending = at === 0 ? buf : buf.subarray(at);
    return undefined;
  }
}
