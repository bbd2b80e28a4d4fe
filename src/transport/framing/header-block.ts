/**
 * The header block of a frame: UTF-8 "key\0value\0key\0value". Header names and values never
 * contain NUL (nor CR or LF, which other transports would carry them in).
 */
import type { Header } from "../transport.js";

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
