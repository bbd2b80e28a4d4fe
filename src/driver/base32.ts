/**
 * RFC 4648 base32 with `=` padding: Go's `base32.StdEncoding`, which Go Micro's NATS KV store uses
 * for keys with `EncodeKeys()` (the NATS store and sync use it). Its alphabet (A–Z, 2–7, =) is all
 * valid in a NATS subject.
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const VALUES = new Map([...ALPHABET].map((c, i) => [c, i]));
/** Padding characters a final 8-character block may end with, by the bytes it carries (1–5). */
const PADDING = [6, 4, 3, 1, 0];

export function base32Encode(data: Uint8Array): string {
  let out = "";
  let bits = 0;
  let buffer = 0;
  for (const byte of data) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >>> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out + "=".repeat((8 - (out.length % 8)) % 8);
}

/** The bytes, or undefined when `text` is not strict, padded base32 (Go's DecodeString fails then too). */
export function base32Decode(text: string): Uint8Array | undefined {
  if (text.length % 8 !== 0) return undefined;
  const body = text.replace(/=+$/, "");
  const padding = text.length - body.length;
  if (text.length > 0 && !PADDING.includes(padding)) return undefined;
  const out = new Uint8Array(Math.floor((body.length * 5) / 8));
  let bits = 0;
  let buffer = 0;
  let n = 0;
  for (const c of body) {
    const value = VALUES.get(c);
    if (value === undefined) return undefined;
    buffer = ((buffer << 5) | value) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (buffer >>> bits) & 0xff;
    }
  }
  return out;
}
