/**
 * Decodes the header blocks of one connection, reusing the leading headers they repeat. A client
 * sends the same first headers on every call (Micro-Service, Micro-Endpoint, Micro-Method,
 * Content-Type, and Timeout while its calls have the same timeout) and last the one that changes
 * (Micro-Id). Comparing the repeated fields' bytes with the last block's and copying their decoded
 * object costs less than decoding them again: a call's 12 fields took ~0.6 µs to decode in a loop,
 * ~0.3 µs this way (see bench/README.md for what it changes per call).
 *
 * The memo is the leading pairs that the last two different blocks shared, byte for byte: after
 * two calls of one caller it holds the headers before Micro-Id. A block that starts with those
 * bytes, followed by a NUL or its end, gets a copy of their decoded headers and only the rest
 * decoded. Anything else is decoded in full (decodeHeader), so the answer is always the one
 * decodeHeader gives, errors included: the same bytes decode to the same headers. A block it
 * missed shrinks the memo to what the two share; sharing nothing, that block becomes the next
 * candidate. Every so often (RELEARN_EVERY) it starts over, to take in headers that became steady
 * after it learnt.
 */
import type { Header } from "../transport.js";
import { decodeFields, decodeHeader, type HeaderProblem, lastFieldText, UNSENDABLE, writePair } from "./header-block.js";

/** Longest block remembered: the repeated headers of a call are ~100 bytes. */
const MEMO_BYTES = 512;
/**
 * Every this many hits the memo starts over from the block it just decoded, so that it can take
 * in headers that became steady after it learnt: a client's first call, made while it connected,
 * has a Timeout of its own, and a memo learnt from it left Timeout out for good: a server ran
 * ~4,500 instructions more per call (a tenth of all it ran; bench/README.md, seventh pass).
 */
const RELEARN_EVERY = 1024; // a power of two

export class HeaderMemo {
  /** The remembered bytes: the shared leading pairs, or a whole block still unconfirmed. */
  private readonly bytes = Buffer.allocUnsafe(MEMO_BYTES);
  private length = 0;
  /** The headers `bytes` decode to once confirmed (two blocks shared them), with their count. */
  private shared: Header | undefined;
  private sharedCount = 0;
  /** Blocks that began with the remembered headers (whose decoding was partly skipped). */
  hits = 0;
  /**
   * The name of the pair that followed the remembered ones, last, in a block decoded from them:
   * its bytes (with the NUL after it) and the remembered headers plus that name. A block ending
   * in one pair of that name gets a copy of `template` with only the value decoded: the name, the
   * check for a repeated one and the new property cost more than the rest of a hit (a call's
   * Micro-Id comes last).
   */
  private tail: { name: string; bytes: Buffer; template: Header } | undefined;

  /** Bytes of leading headers a block that repeats them skips decoding (0 while learning). */
  get remembered(): number {
    return this.shared === undefined ? 0 : this.length;
  }

  /** decodeHeader(buf, start, end, maxCount), reusing what this block repeats of the last ones. */
  decode(buf: Buffer, start: number, end: number, maxCount: number): Header | HeaderProblem {
    const size = end - start;
    const shared = this.shared;
    if (shared !== undefined && size >= this.length && this.sharedCount <= maxCount && this.repeats(buf, start)) {
      const at = start + this.length;
      // Object.assign, not a spread: V8 gives a spread copy a map that adding headers to takes
      // its slow path (~2.8 µs for two headers, against ~0.14 µs).
      if (at === end || buf[at] === 0) {
        const header =
          at === end ? Object.assign({}, shared) : (this.fromTail(buf, at + 1, end, maxCount) ?? this.decodeRest(buf, at + 1, end, shared, maxCount));
        if ((++this.hits & (RELEARN_EVERY - 1)) === 0 && typeof header !== "string" && size <= MEMO_BYTES) this.candidate(buf, start, end);
        return header;
      }
    }
    const header = decodeHeader(buf, start, end, maxCount);
    if (typeof header !== "string" && size > 0 && size <= MEMO_BYTES) this.learn(buf, start, end);
    return header;
  }

  /** The headers of a block whose rest, from `from`, is one pair named as `tail`; undefined otherwise. */
  private fromTail(buf: Buffer, from: number, end: number, maxCount: number): Header | undefined {
    const tail = this.tail;
    if (tail === undefined || this.sharedCount + 1 > maxCount) return undefined;
    const name = tail.bytes;
    if (from + name.length > end) return undefined;
    for (let i = 0; i < name.length; i++) if (buf[from + i] !== name[i]) return undefined;
    const value = lastFieldText(buf, from + name.length, end);
    if (value === undefined) return undefined;
    const header = Object.assign({}, tail.template);
    header[tail.name] = value;
    return header;
  }

  /** The remembered headers and the rest of the block from `from`, decoded; learns the tail from one pair. */
  private decodeRest(buf: Buffer, from: number, end: number, shared: Header, maxCount: number): Header | HeaderProblem {
    const header = decodeFields(buf, from, end, Object.assign({}, shared), this.sharedCount, maxCount);
    if (this.tail !== undefined || typeof header === "string") return header;
    const names = Object.keys(header);
    if (names.length !== this.sharedCount + 1) return header;
    const nameEnd = buf.indexOf(0, from);
    this.tail = { name: names[names.length - 1], bytes: Buffer.from(buf.subarray(from, nameEnd + 1)), template: Object.assign({}, header) };
    return header;
  }

  /**
   * Whether `buf` from `start` begins with the remembered bytes. Buffer.compare (memcmp, behind
   * one call into C++) takes ~75 ns for a call's ~120 bytes where a loop takes ~130 ns.
   */
  private repeats(buf: Buffer, start: number): boolean {
    return buf.compare(this.bytes, 0, this.length, start, start + this.length) === 0;
  }

  /**
   * After a valid block the memo did not cover: remembers the leading pairs it shares with the
   * remembered bytes, or, sharing none, the block itself as the next candidate.
   */
  private learn(buf: Buffer, start: number, end: number): void {
    const sharedEnd = this.length === 0 ? 0 : this.sharedPairsEnd(buf, start, end);
    if (sharedEnd === 0) return this.candidate(buf, start, end);
    this.length = sharedEnd;
    this.tail = undefined;
    // Valid, and within any count limit: the leading pairs of a block that was.
    const header = decodeHeader(buf, start, start + sharedEnd, Number.POSITIVE_INFINITY) as Header;
    this.shared = header;
    this.sharedCount = Object.keys(header).length;
  }

  /** Remembers the block from `start` to `end` whole, to learn from with the next one. */
  private candidate(buf: Buffer, start: number, end: number): void {
    this.tail = undefined;
    buf.copy(this.bytes, 0, start, end);
    this.length = end - start;
    this.shared = undefined;
  }

  /**
   * Where the last whole pair ends that the block from `start` and the remembered bytes both
   * begin with (its NUL, or the end of either), or 0 when they share no pair.
   */
  private sharedPairsEnd(buf: Buffer, start: number, end: number): number {
    const bytes = this.bytes;
    const limit = Math.min(this.length, end - start);
    let fields = 0;
    let pairsEnd = 0;
    for (let i = 0; i <= limit; i++) {
      const mine = i === this.length ? 0 : bytes[i];
      const theirs = start + i === end ? 0 : buf[start + i];
      if (mine !== theirs) break;
      if (theirs === 0 && ++fields % 2 === 0) pairsEnd = i;
    }
    return pairsEnd;
  }
}

/**
 * The writing side of the same idea, for a connection's FrameWriter: it remembers the pairs of
 * the last header block it wrote, and their bytes. A block whose leading pairs are the same
 * strings, compared by identity (a client's calls share their service, endpoint, Content-Type
 * and Timeout strings), gets those bytes copied instead of encoded again, character by
 * character; the rest is written as writeHeader writes it. The bytes are what writeHeader
 * writes, and a header it refuses is refused here too: the same strings were checked when they
 * were first written.
 */
export class HeaderWriteMemo {
  private readonly keys: string[] = [];
  private readonly values: string[] = [];
  /** Where each remembered pair ends in `bytes`. */
  private readonly ends: number[] = [];
  private count = 0;
  private readonly bytes = Buffer.allocUnsafe(MEMO_BYTES);
  /** Blocks written with leading pairs copied from the memo. */
  hits = 0;
  /** The remembered bytes the last copy took. */
  private prefix = this.bytes.subarray(0, 0);

  /** writeHeader(buf, at, header, maxCount), with the pairs it repeats copied from the last block. */
  write(buf: Buffer, at: number, header: Header, maxCount: number): number {
    const start = at;
    let index = 0;
    let reused = 0;
    for (const key in header) {
      const value = header[key];
      if (index === reused && index < this.count && this.keys[index] === key && this.values[index] === value) {
        reused = ++index;
        if (index > maxCount) return this.forget();
        continue;
      }
      if (index === reused && reused > 0) at = this.copy(buf, start, reused);
      if (++index > maxCount) return this.forget();
      at = writePair(buf, at, key, value, index === 1);
      if (at < 0) return this.forget();
      this.keys[index - 1] = key;
      this.values[index - 1] = value;
      this.ends[index - 1] = at - start;
    }
    if (index === reused && reused > 0) at = this.copy(buf, start, reused);
    this.learn(buf, start, reused, index);
    return at;
  }

  /** Forgets the last block (the next one is written in full); returns UNSENDABLE. */
  forget(): number {
    this.count = 0;
    return UNSENDABLE;
  }

  /** Copies the first `pairs` remembered pairs to `buf` at `start`; returns where they end. */
  private copy(buf: Buffer, start: number, pairs: number): number {
    this.hits++;
    const length = this.ends[pairs - 1];
    // TypedArray.set, a V8 builtin, copies ~100 bytes in a quarter of the time of a loop, and
    // without a call into C++ (Buffer.copy); the view is made again only when the length changes.
    if (this.prefix.length !== length) this.prefix = this.bytes.subarray(0, length);
    buf.set(this.prefix, start);
    return start + length;
  }

  /** Takes in the pairs of the block just written from `start`: those after `reused` are new. */
  private learn(buf: Buffer, start: number, reused: number, count: number): void {
    let kept = count;
    while (kept > 0 && this.ends[kept - 1] > MEMO_BYTES) kept--;
    const from = reused === 0 ? 0 : this.ends[reused - 1];
    const to = kept === 0 ? 0 : this.ends[kept - 1];
    for (let i = from; i < to; i++) this.bytes[i] = buf[start + i];
    this.count = kept;
  }
}
