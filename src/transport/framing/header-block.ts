/**
 * The header block of a frame: UTF-8 "key\0value\0key\0value". Names are non-empty and unique;
 * names and values never contain NUL, CR or LF. NUL is the separator, so a value holding one
 * would smuggle extra headers (`"hi\0Micro-Endpoint\0Other.Method"` would call another endpoint);
 * CR and LF would do the same on the HTTP transport. Senders refuse such headers (writeHeader,
 * headerProblem) and receivers refuse blocks that break these rules (decodeHeader).
 */
import { isAscii } from "node:buffer";
import type { Header } from "../transport.js";

/** Headers a block may hold, unless a transport is configured otherwise. */
export const DEFAULT_MAX_HEADER_COUNT = 128;
/** Bytes a header block may take, unless a transport is configured otherwise. */
export const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;

/** How many headers, and how many bytes of them, one frame may carry. */
export interface HeaderLimits {
  readonly maxHeaderCount: number;
  readonly maxHeaderBytes: number;
}

export const DEFAULT_HEADER_LIMITS: HeaderLimits = { maxHeaderCount: DEFAULT_MAX_HEADER_COUNT, maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES };

/** Why a header block or a header object cannot be used; the caller closes or refuses. */
export type HeaderProblem = string;

const UNSAFE = /[\0\r\n]/;

/**
 * Why `header` cannot be sent in a header block (an empty name, NUL/CR/LF in a name or value,
 * more headers or bytes than `limits` allow), or undefined. For paths that build the block's
 * text with encodeHeader, and to explain a refusal by writeHeader or FrameWriter.pushHeader.
 */
export function headerProblem(header: Header, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): HeaderProblem | undefined {
  let count = 0;
  for (const key in header) {
    if (++count > limits.maxHeaderCount) return `more than ${limits.maxHeaderCount} headers`;
    if (key.length === 0) return "a header with an empty name";
    if (UNSAFE.test(key) || UNSAFE.test(header[key])) return unsafeField(key);
  }
  const bytes = Buffer.byteLength(encodeHeader(header));
  if (bytes > limits.maxHeaderBytes) return `headers of ${bytes} bytes exceed the maximum of ${limits.maxHeaderBytes}`;
  return undefined;
}

function unsafeField(key: string): HeaderProblem {
  return `header ${JSON.stringify(key)} contains NUL, CR or LF in its name or value, which cannot be sent`;
}

const EMPTY_HEADER = "";

export function encodeHeader(header: Header): string {
  let out = EMPTY_HEADER;
  for (const key in header) {
    out += out.length === 0 ? `${key}\0${header[key]}` : `\0${key}\0${header[key]}`;
  }
  return out;
}

/**
 * Decodes the header block in `buf` from `start` to `end`, or says why it is not a valid block
 * (see the rules above; at most `maxCount` headers). Straight from the frame's bytes, with names
 * and repeated values taken from a small cache: splitting a decoded block made a dozen strings
 * per call, most of a server's garbage per request.
 */
export function decodeHeader(buf: Buffer, start = 0, end = buf.length, maxCount = DEFAULT_MAX_HEADER_COUNT): Header | HeaderProblem {
  const header: Header = {};
  if (start >= end) return header;
  return decodeFields(buf, start, end, header, 0, maxCount);
}

/**
 * Decodes the fields of a block from `from` (the start of a name) to `end` into `header`, which
 * already holds `count` headers (see HeaderMemo); returns it, or why the block is not valid.
 */
export function decodeFields(buf: Buffer, from: number, end: number, header: Header, count: number, maxCount: number): Header | HeaderProblem {
  let key: string | undefined;
  // Each field ends at a NUL, the last one at `end`.
  while (from <= end) {
    const stop = fieldEnd(buf, from, end);
    if (stop === CR_OR_LF) return "a header name or value contains CR or LF";
    const text = fieldText(buf, from, stop);
    if (key === undefined) {
      if (text.length === 0) return "a header with an empty name";
      if (++count > maxCount) return `more than ${maxCount} headers`;
      key = text;
    } else {
      // Names are unique in a block a sender encoded from an object: a repeat was smuggled in.
      if (Object.hasOwn(header, key)) return `header ${JSON.stringify(key)} appears twice`;
      header[key] = text;
      key = undefined;
    }
    from = stop + 1;
  }
  if (key !== undefined) return `header ${JSON.stringify(key)} has no value`;
  return header;
}

/**
 * The text of the last field of a block, `buf[start, end)`, as decodeFields decodes it; undefined
 * when it holds a NUL (more fields follow) or CR or LF, for decodeFields to decode or refuse.
 */
export function lastFieldText(buf: Buffer, start: number, end: number): string | undefined {
  return fieldEnd(buf, start, end) === end ? fieldText(buf, start, end) : undefined;
}

/** fieldEnd's answer for a field holding CR or LF. */
const CR_OR_LF = -1;
/** Set by fieldEnd: whether the field it scanned last is plain ASCII (decoded as latin1, and cached). */
let fieldAscii = true;

/**
 * Where the field at `from` ends (its NUL, or `end`), or CR_OR_LF. Printable ASCII, nearly every
 * byte of a block, costs one comparison; a long field (a bearer token) is scanned natively.
 */
function fieldEnd(buf: Buffer, from: number, end: number): number {
  fieldAscii = true;
  const limit = Math.min(end, from + LONG_TEXT);
  for (let i = from; i < limit; i++) {
    const byte = buf[i];
    // One unsigned comparison passes 0x0e to 0x7f; NUL, CR, LF and non-ASCII are all below or above.
    if ((byte - 0x0e) >>> 0 < 0x72) continue;
    if (byte === 0) return i;
    if (byte === 0x0a || byte === 0x0d) return CR_OR_LF;
    if (byte >= 0x80) fieldAscii = false;
  }
  if (limit === end || buf[limit] === 0) return limit;
  return longField(buf, limit, end);
}

/** The text of the field `buf[start, end)`, which fieldEnd has just scanned. */
function fieldText(buf: Buffer, start: number, end: number): string {
  if (end - start > LONG_TEXT) return longText(buf, start, end);
  return fieldAscii ? headerText(buf, start, end) : buf.toString("utf8", start, end);
}

const CACHE_WAYS = 4;
const CACHE_SETS = 64; // a power of two
const cache: string[] = new Array<string>(CACHE_SETS * CACHE_WAYS).fill("");

/**
 * The ASCII string of `buf[start, end)`, from the cache when it holds the same bytes. Header
 * names, service, endpoint and Content-Type repeat on every call. Text starting with a digit
 * (call ids, timeouts) changes per call and is not cached: kept in a long-lived table, fresh
 * strings would survive collections they should not.
 *
 * The cache has sets of a few strings each, chosen by the length and a few bytes of the text
 * rather than a hash of all of them (which cost a multiplication per byte); a string found there
 * is compared byte for byte, and the few ways keep names alike in those bytes from evicting each
 * other.
 */
function headerText(buf: Buffer, start: number, end: number): string {
  const length = end - start;
  if (length === 0) return "";
  const first = buf[start];
  if (first >= 0x30 && first <= 0x39) return digitText(buf, start, end);
  const mix = length ^ (first << 8) ^ (buf[start + (length >> 1)] << 16) ^ (buf[end - 1] << 24);
  const set = (Math.imul(mix, 0x9e3779b1) >>> 26) * CACHE_WAYS; // the top 6 bits: 64 sets
  for (let way = set; way < set + CACHE_WAYS; way++) {
    const cached = cache[way];
    if (cached.length === length && sameText(cached, buf, start)) return cached;
  }
  const text = buf.toString("latin1", start, end);
  // The newest string goes first, the oldest of the set out.
  for (let way = set + CACHE_WAYS - 1; way > set; way--) cache[way] = cache[way - 1];
  cache[set] = text;
  return text;
}

/** Decimals with up to this many digits fit a small integer (V8's Smi), whose string is cheap. */
const SMALL_DIGITS = 9;

/**
 * The text of `buf[start, end)`, which starts with a digit. A call id (and a short timeout) is
 * nearly always a plain decimal: made from its number, its string takes no call into C++, which
 * cost more than the rest of decoding the field.
 */
function digitText(buf: Buffer, start: number, end: number): string {
  const length = end - start;
  // A leading zero would be lost ("007" is not String(7)).
  if (length > SMALL_DIGITS || (length > 1 && buf[start] === 0x30)) return buf.toString("latin1", start, end);
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = buf[i] - 0x30;
    if (digit < 0 || digit > 9) return buf.toString("latin1", start, end);
    value = value * 10 + digit;
  }
  return String(value);
}

/**
 * Where a long field ends (its NUL, or `end`), its bytes before `at` already scanned; or
 * CR_OR_LF. A JavaScript loop over every byte of a ~800-byte token cost a server a couple of
 * microseconds per call; the native searches cost a fraction of that.
 */
function longField(buf: Buffer, at: number, end: number): number {
  const field = buf.subarray(at, end);
  const nul = field.indexOf(0);
  const stop = nul === -1 ? end : at + nul;
  const rest = nul === -1 ? field : field.subarray(0, nul);
  if (rest.indexOf(0x0a) !== -1 || rest.indexOf(0x0d) !== -1) return CR_OR_LF;
  return stop;
}

const LONG_SLOTS = 16; // a power of two
const longCache: { bytes: Buffer; text: string }[] = Array.from({ length: LONG_SLOTS }, () => ({ bytes: Buffer.alloc(0), text: "" }));

/**
 * The text of the long field `buf[start, end)`, from a small cache when it holds the same bytes
 * (compared natively): a caller sends the same token on every call, and handing back the same
 * string also spares the token cache from hashing a new one each time.
 */
function longText(buf: Buffer, start: number, end: number): string {
  const length = end - start;
  const slot = (length ^ buf[start + (length >> 1)] ^ (buf[end - 1] << 4)) & (LONG_SLOTS - 1);
  const cached = longCache[slot];
  if (cached.bytes.length === length && buf.compare(cached.bytes, 0, length, start, end) === 0) return cached.text;
  const bytes = Buffer.from(buf.subarray(start, end));
  const text = isAscii(bytes) ? bytes.toString("latin1") : bytes.toString("utf8");
  longCache[slot] = { bytes, text };
  return text;
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

/** Values longer than this are copied by writeText's native path when they are plain ASCII. */
const LONG_TEXT = 64;
/** What writeText's byte loop copies as it is: ASCII from space up (no control characters). */
const PLAIN_ASCII = /^[\x20-\x7f]*$/;

/** The last long value found plain: a client sends its token on every call, so it is checked once. */
let lastPlainLong = "";

/**
 * A change writeHeader makes to a header while writing it: the names in `omit` are left out and
 * `extra` ("name\0value[\0name\0value]", `extraCount` pairs of plain ASCII) is appended. The mux
 * client sends values by reference this way without building a new header object per call.
 */
export interface HeaderSwap {
  readonly omit: readonly string[];
  readonly extra: string;
  readonly extraCount: number;
}

/** writeHeader's answer for a header that cannot be sent (see headerProblem for why). */
export const UNSENDABLE = -1;

/**
 * Writes a header block into `buf` at `at` and returns where it ends, or UNSENDABLE when a name
 * is empty, a name or value holds NUL, CR or LF, or there are more than `maxCount` headers (what
 * was written is then garbage the caller discards). Header names and values are nearly always
 * ASCII, copied by a byte loop that also spots the forbidden bytes; any other string is encoded
 * by Buffer.write. The caller has reserved headerBound(header) bytes, plus the length of `swap`'s
 * extra text (see HeaderSwap).
 */
export function writeHeader(buf: Buffer, at: number, header: Header, maxCount = DEFAULT_MAX_HEADER_COUNT, swap?: HeaderSwap): number {
  let count = 0;
  const omit = swap?.omit;
  for (const key in header) {
    if (omit !== undefined && omit.length > 0 && omit.includes(key)) continue;
    if (++count > maxCount) return UNSENDABLE;
    at = writePair(buf, at, key, header[key], count === 1);
    if (at < 0) return UNSENDABLE;
  }
  if (swap === undefined || swap.extraCount === 0) return at;
  if (count + swap.extraCount > maxCount) return UNSENDABLE;
  if (count > 0) buf[at++] = 0;
  return at + buf.write(swap.extra, at, "latin1");
}

/**
 * Writes one pair at `at`, after the NUL that separates it from the one before unless it is the
 * block's first, and returns where it ends; UNSENDABLE for an empty name, or NUL, CR or LF in
 * the name or value (see writeHeader).
 */
export function writePair(buf: Buffer, at: number, key: string, value: string, first: boolean): number {
  if (!first) buf[at++] = 0;
  if (key.length === 0) return UNSENDABLE;
  at = writeText(buf, at, key);
  if (at < 0) return UNSENDABLE;
  buf[at++] = 0;
  return writeText(buf, at, value);
}

function writeText(buf: Buffer, at: number, text: string): number {
  const length = text.length;
  // A long value (a bearer token is ~500 characters) is checked by one native scan and copied
  // natively: the byte loop below cost a client several µs per call for such a header.
  if (length > LONG_TEXT && (text === lastPlainLong || PLAIN_ASCII.test(text))) {
    lastPlainLong = text;
    return at + buf.write(text, at, length, "latin1");
  }
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    // One unsigned comparison sends both control characters and non-ASCII to the slow path.
    if ((code - 0x20) >>> 0 >= 0x60) {
      if (code >= 0x80) return UNSAFE.test(text) ? UNSENDABLE : at + buf.write(text, at, "utf8");
      if (code === 0 || code === 0x0a || code === 0x0d) return UNSENDABLE;
    }
    buf[at + i] = code;
  }
  return at + length;
}
