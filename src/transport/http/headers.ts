/**
 * Header keys as Go's `textproto.CanonicalMIMEHeaderKey` writes them: the first letter and every
 * letter after a hyphen upper case, the rest lower case (`micro-id` → `Micro-Id`). A key holding a
 * byte that is not a token character is left as it is, as Go does.
 */
import type { Header } from "../transport.js";

const cache = new Map<string, string>();
const CACHE_LIMIT = 1024;
/** Longer names are not cached: the cache is for the few names every request repeats, and stays small. */
const CACHED_KEY_LENGTH = 64;

export function canonicalKey(key: string): string {
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const canonical = canonicalize(key);
  if (cache.size < CACHE_LIMIT && key.length <= CACHED_KEY_LENGTH) cache.set(key, canonical);
  return canonical;
}

function canonicalize(key: string): string {
  let out = "";
  let upper = true;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (!isTokenChar(c)) return key;
    const ch = key[i];
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = c === 0x2d; // '-'
  }
  return out;
}

/** RFC 7230 tchar. */
export function isTokenChar(c: number): boolean {
  if (c >= 0x61 && c <= 0x7a) return true; // a-z
  if (c >= 0x41 && c <= 0x5a) return true; // A-Z
  if (c >= 0x30 && c <= 0x39) return true; // 0-9
  return "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c));
}

/** A copy of `header` with every key canonical; on a clash the later key wins, as `http.Header.Set`. */
export function canonicalHeader(header: Header): Header {
  const out: Header = {};
  for (const key in header) out[canonicalKey(key)] = header[key];
  return out;
}

/**
 * Control characters a header value may not hold (all but horizontal tab), as Go's net/http
 * refuses them on both ends: CR, LF and NUL would split or cut the message, and the rest have no
 * business in a header.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: header validation: this class exists to find control bytes (NUL, CR, LF and the rest, tab allowed)
export const UNSAFE_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Serialises header lines; keys and values that could split the message are rejected. */
export function headerLines(header: Header): string {
  let out = "";
  for (const key in header) {
    const value = header[key];
    if (key.length === 0 || !validName(key) || UNSAFE_VALUE.test(value)) {
      throw new TypeError(`header ${JSON.stringify(key)} cannot be sent over HTTP (it contains a line break, NUL, colon or other control character)`);
    }
    out += `${key}: ${value}\r\n`;
  }
  return out;
}

/** A name holds no colon, space or control character (non-ASCII letters from metadata keys may pass). */
function validName(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c <= 0x20 || c === 0x3a || c === 0x7f) return false;
  }
  return true;
}
