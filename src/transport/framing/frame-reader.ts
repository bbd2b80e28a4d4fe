/** Splits a byte stream into frames (see frame.ts for the layout). */
import { FRAME_PREFIX, type Frame, FrameType, LAST_FRAME_TYPE, readU32 } from "./frame.js";
import type { HeaderLimits } from "./header-block.js";
import { HeaderMemo } from "./header-memo.js";

export type FrameErrorReason = string;

/** What a reader accepts: larger frames or header blocks are errors, not allocations. */
export interface FrameLimits extends HeaderLimits {
  /** Largest frame, prefix included. */
  readonly maxFrameSize: number;
}

/**
 * Bytes that readers sharing it (a listener's connections) may hold in frames not yet complete.
 * Without it, each connection may hold up to a frame's worth: 300 connections sending 4 MiB
 * frames minus one byte held 1.4 GiB.
 */
export interface FrameBudget {
  readonly limit: number;
  used: number;
}

/** Returned by frameAt when the bytes do not yet hold the whole frame. */
const INCOMPLETE = -1;
/** The smallest buffer a partial frame is assembled in. */
const MIN_ASSEMBLY = 4096;

/**
 * Splits an incoming byte stream into frames. Returns a reason string when the input is not a
 * valid frame stream (the caller closes the connection); otherwise delivers each frame.
 *
 * A frame split across reads is assembled in one buffer that grows by doubling (never past the
 * frame's size): each byte is copied a bounded number of times however the frame is cut up.
 * Re-joining the whole partial frame on every read made a frame trickled 1 KiB at a time cost
 * quadratic time (~40x the CPU of the same bytes in one piece).
 */
export class FrameReader {
  /** Frames delivered so far (a connection's watchdog compares it between checks). */
  frames = 0;
  /** Bytes copied while assembling split frames: the reassembly work, linear in the bytes received. */
  copied = 0;
  private assembly: Buffer | undefined;
  private held = 0;
  /** The connection's header blocks repeat their first headers on every call. */
  private readonly headers = new HeaderMemo();

  /**
   * @param reusedInput the caller overwrites each chunk once push returns (a socket read into one
   *   reused buffer): frame bodies are then copied out rather than handed over as views.
   */
  constructor(
    private readonly limits: FrameLimits,
    private readonly onFrame: (frame: Frame) => void,
    private readonly budget?: FrameBudget,
    private readonly reusedInput = false,
  ) {}

  /** Bytes of an incomplete frame held, waiting for the rest. */
  get holding(): number {
    return this.held;
  }

  /** Feeds `chunk[0, length)`; returns an error reason if the stream is malformed. */
  push(chunk: Buffer, length = chunk.length): FrameErrorReason | undefined {
    let at = 0;
    if (this.held > 0) {
      const taken = this.fill(chunk, length);
      if (typeof taken === "string") return taken;
      at = taken;
      // The assembly is the frame's own buffer (a new one per split frame): its body is a view.
      const end = this.frameAt(this.assembly!, 0, this.held, true);
      if (end === INCOMPLETE) return undefined; // the chunk is used up
      this.release();
      if (typeof end === "string") return end;
    }
    const owned = !this.reusedInput;
    while (at < length) {
      const end = this.frameAt(chunk, at, length, owned);
      if (typeof end === "string") return end;
      if (end === INCOMPLETE) return this.hold(chunk, at, length);
      at = end;
    }
    return undefined;
  }

  /** Gives back what the reader holds (its connection is closing). */
  release(): void {
    if (this.assembly && this.budget) this.budget.used -= this.assembly.length;
    this.assembly = undefined;
    this.held = 0;
  }

  /**
   * Parses and delivers the frame at `at`; returns where it ends, INCOMPLETE when `buf[at, end)`
   * holds only part of it, or why it is invalid. Fields are checked as soon as they have arrived.
   * The body is a view of `buf` when `owned`, a copy otherwise.
   */
  private frameAt(buf: Buffer, at: number, end: number, owned: boolean): number | FrameErrorReason {
    if (end - at < 4) return INCOMPLETE;
    const length = readU32(buf, at);
    if (length + 4 > this.limits.maxFrameSize) return `frame of ${length + 4} bytes exceeds the maximum of ${this.limits.maxFrameSize}`;
    if (length < FRAME_PREFIX - 4) return `frame of ${length + 4} bytes is shorter than a frame header`;
    if (end - at < length + 4) return INCOMPLETE;
    const type = buf[at + 4] as FrameType;
    if (type < FrameType.Request || type > LAST_FRAME_TYPE) return `unknown frame type ${type}`;
    const stream = readU32(buf, at + 6);
    const headerLen = readU32(buf, at + 10);
    const headerStart = at + FRAME_PREFIX;
    const bodyStart = headerStart + headerLen;
    const frameEnd = at + 4 + length;
    if (bodyStart > frameEnd) return `header block of ${headerLen} bytes overruns its frame`;
    if (headerLen > this.limits.maxHeaderBytes) return `header block of ${headerLen} bytes exceeds the maximum of ${this.limits.maxHeaderBytes}`;
    const header = this.headers.decode(buf, headerStart, bodyStart, this.limits.maxHeaderCount);
    if (typeof header === "string") return `bad header block on stream ${stream}: ${header}`;
    this.frames++;
    const body = owned ? buf.subarray(bodyStart, frameEnd) : Buffer.from(buf.subarray(bodyStart, frameEnd));
    this.onFrame({ type, flags: buf[at + 5], stream, header, body });
    return frameEnd;
  }

  /** Starts assembling the partial frame at `chunk[at, length)`. */
  private hold(chunk: Buffer, at: number, length: number): FrameErrorReason | undefined {
    const size = length - at >= 4 ? chunk.readUInt32BE(at) + 4 : Infinity; // checked by frameAt
    const problem = this.grow(length - at, size);
    if (problem) return problem;
    chunk.copy(this.assembly!, 0, at, length);
    this.held = length - at;
    this.copied += this.held;
    return undefined;
  }

  /**
   * Appends to the partial frame what `chunk[0, length)` has of it; returns how many bytes of
   * `chunk` that took (the rest belongs to later frames).
   */
  private fill(chunk: Buffer, length: number): number | FrameErrorReason {
    let taken = 0;
    if (this.held < 4) {
      // The length is not known yet: complete it first.
      taken = Math.min(4 - this.held, length);
      chunk.copy(this.assembly!, this.held, 0, taken);
      this.held += taken;
      this.copied += taken;
      if (this.held < 4) return taken;
    }
    const size = this.assembly!.readUInt32BE(0) + 4;
    if (size > this.limits.maxFrameSize) return `frame of ${size} bytes exceeds the maximum of ${this.limits.maxFrameSize}`;
    const wanted = Math.min(size - this.held, length - taken);
    const problem = this.grow(this.held + wanted, size);
    if (problem) return problem;
    chunk.copy(this.assembly!, this.held, taken, taken + wanted);
    this.held += wanted;
    this.copied += wanted;
    return taken + wanted;
  }

  /**
   * Makes room for `needed` bytes: at least double the current buffer (so copies stay linear),
   * never more than the frame's `size`, and within the shared budget.
   */
  private grow(needed: number, size = Infinity): FrameErrorReason | undefined {
    const current = this.assembly?.length ?? 0;
    if (needed <= current) return undefined;
    const capacity = Math.max(needed, Math.min(Math.max(current * 2, MIN_ASSEMBLY), size));
    if (this.budget) {
      if (this.budget.used + capacity - current > this.budget.limit) {
        return `partial frames would take more than the ${this.budget.limit} bytes allowed (frame completion buffer budget)`;
      }
      this.budget.used += capacity - current;
    }
    const next = Buffer.allocUnsafe(capacity);
    if (this.held > 0) this.assembly!.copy(next, 0, 0, this.held);
    this.copied += this.held;
    this.assembly = next;
    return undefined;
  }
}
