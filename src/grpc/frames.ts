/**
 * gRPC's message framing inside an HTTP/2 stream: each message is a 1-byte compressed flag, a
 * 4-byte big-endian length and the message. Compression is not negotiated (no grpc-encoding is
 * advertised), so a compressed message is refused.
 */

/** Why a stream's bytes cannot be read as messages; the code says which gRPC status to answer with. */
export class FrameError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

const RESOURCE_EXHAUSTED = 8;
const UNIMPLEMENTED = 12;

/** One message with its prefix, ready to write. */
export function frame(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = 0;
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
}

/** Cuts a stream's DATA into messages, refusing any longer than `maxSize` before buffering it. */
export class FrameReader {
  private pending: Buffer[] = [];
  private buffered = 0;
  /** Length of the message being assembled, once its prefix has arrived. */
  private need = -1;

  constructor(private readonly maxSize: number) {}

  /** Feeds a chunk; returns the messages it completed. Throws FrameError on bad input. */
  push(chunk: Buffer): Uint8Array[] {
    this.pending.push(chunk);
    this.buffered += chunk.length;
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 5) break;
        const prefix = this.take(5);
        if (prefix[0] !== 0) throw new FrameError(`compressed message (flag ${prefix[0]}) but no compression was negotiated`, UNIMPLEMENTED);
        this.need = prefix.readUInt32BE(1);
        if (this.need > this.maxSize) throw new FrameError(`grpc: received message larger than max (${this.need} vs. ${this.maxSize})`, RESOURCE_EXHAUSTED);
      }
      if (this.buffered < this.need) break;
      out.push(this.take(this.need));
      this.need = -1;
    }
    return out;
  }

  /** True when a message was begun but not finished. */
  get partial(): boolean {
    return this.need >= 0 || this.buffered > 0;
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.pending[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
    } else {
      const joined = Buffer.concat(this.pending);
      out = joined.subarray(0, n);
      this.pending = joined.length > n ? [joined.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }
}
