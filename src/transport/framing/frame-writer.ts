/** Writes frames onto a byte stream (see frame.ts for the layout), many per socket write. */
import type { Header } from "../transport.js";
import { FRAME_PREFIX, type FrameType, writeU32 } from "./frame.js";
import { DEFAULT_HEADER_LIMITS, type HeaderLimits, type HeaderSwap, headerBound, UNSENDABLE, writeHeader } from "./header-block.js";
import { HeaderWriteMemo } from "./header-memo.js";

// Taken once, not `process.nextTick` per frame: the global process and its method are looked up
// generically on every use, even in optimized code (~300 instructions per frame). Not imported
// from "node:process" either: that import builds a module of every property of process, which
// costs a service about 4 ms of its start-up.
const { nextTick } = process;

/**
 * A write as soon as this much is buffered. At 64 calls in flight on one connection, writing only
 * at the end of the tick made client and server take turns (one batch of 64 each way); writing
 * every ~4 KiB overlaps them and about doubled calls/s on two cores. Larger values lose that
 * overlap, smaller ones pay for more write(2) calls.
 */
const EAGER_FLUSH_BYTES = 4096;

/**
 * Accumulates encoded frames and writes them in one batch. Frames are encoded straight into a
 * slab; a flush hands the filled part to the socket and keeps filling the rest of the slab, so a
 * busy connection allocates one slab per ~64 KiB of output rather than one buffer per frame.
 */
export class FrameWriter {
  private slab = Buffer.allocUnsafe(64 * 1024);
  private start = 0; // first byte not yet handed to the socket
  private end = 0; // first free byte
  private scheduled = false;
  /** The pairs of the last header block written, reused by the next (see HeaderWriteMemo). */
  private readonly written = new HeaderWriteMemo();

  /**
   * @param headerLimits what pushHeader refuses to send (the peer would refuse to read it).
   * @param eagerFlushBytes once this much is buffered it is written at once rather than at the
   *   end of the tick, so the peer starts on the first frames of a burst while the rest are still
   *   being produced: both processes work at the same time instead of taking turns.
   * @param batchOverLoop asked at the first frame of a batch. By default a batch is what the
   *   current tick produced (frames made together, such as the answers to one socket read) and
   *   is written at the tick's end. When this answers true, the batch waits for the rest of the
   *   event loop's I/O callbacks instead, so frames produced by many of them (calls made for HTTP
   *   requests arriving on 64 connections, one callback each) share one write(2) instead of one
   *   each. A lone frame should not wait: that costs a round trip at concurrency 1 about 8 %.
   */
  constructor(
    private readonly write: (chunk: Buffer) => void,
    private readonly headerLimits: HeaderLimits = DEFAULT_HEADER_LIMITS,
    private readonly eagerFlushBytes = EAGER_FLUSH_BYTES,
    private readonly batchOverLoop: () => boolean = never,
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
   * Returns false, writing nothing, when the header cannot be sent (see writeHeader) or is over
   * the header limits; headerProblem says why. `swap` changes what is written (see HeaderSwap).
   */
  pushHeader(type: FrameType, stream: number, header: Header, body: Uint8Array, flags = 0, swap?: HeaderSwap): boolean {
    this.reserve(FRAME_PREFIX + headerBound(header) + (swap === undefined ? 0 : swap.extra.length + 1) + body.length);
    const headerStart = this.end + FRAME_PREFIX;
    const headerEnd = this.writeHeader(headerStart, header, swap);
    if (headerEnd === UNSENDABLE || headerEnd - headerStart > this.headerLimits.maxHeaderBytes) return false;
    this.finish(type, stream, flags, headerEnd, body);
    return true;
  }

  private writeHeader(at: number, header: Header, swap: HeaderSwap | undefined): number {
    const maxCount = this.headerLimits.maxHeaderCount;
    if (swap === undefined) return this.written.write(this.slab, at, header, maxCount);
    // A block with header references is not what the next block repeats: written in full, not remembered.
    this.written.forget();
    return writeHeader(this.slab, at, header, maxCount, swap);
  }

  /** Fills in the prefix of the frame whose header block ends at `headerEnd`, then copies the body. */
  private finish(type: FrameType, stream: number, flags: number, headerEnd: number, body: Uint8Array): void {
    const buf = this.slab;
    const at = this.end;
    const end = headerEnd + body.length;
    writeU32(buf, at, end - at - 4);
    buf[at + 4] = type;
    buf[at + 5] = flags;
    writeU32(buf, at + 6, stream);
    writeU32(buf, at + 10, headerEnd - at - FRAME_PREFIX);
    if (body.length > 0) buf.set(body, headerEnd);
    this.end = end;
    if (this.end - this.start >= this.eagerFlushBytes) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      if (this.batchOverLoop()) setImmediate(this.flush);
      else nextTick(this.flush);
    }
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

function never(): boolean {
  return false;
}
