/**
 * Checks of a header block ("key\0value\0key\0value", see wire.ts) against injection: a NUL in a
 * name or value would be read as a separator, so `{"X": "hi\0Micro-Endpoint\0Other.Method"}`
 * would reach the server as a second Micro-Endpoint and run another method. The sender refuses
 * such headers; the receiver refuses a block whose separators do not match the headers it
 * decoded to (a repeated name, a name without a value). CR and LF are refused too, as on every
 * transport, so metadata relayed onto HTTP cannot split a message there.
 */
import type { Header } from "../transport.js";

const NUL = 0;
const CR = 0x0d;
const LF = 0x0a;

/** Why `text`, the encoding of `header`, cannot be sent; undefined when it can. */
export function sendableHeaderProblem(header: Header, text: string): string | undefined {
  let keys = 0;
  for (const key in header) {
    if (key.length === 0) return "a header has an empty name";
    keys++;
  }
  if (text.includes("\r") || text.includes("\n")) return "a header name or value holds a line break";
  let separators = 0;
  for (let at = text.indexOf("\0"); at !== -1; at = text.indexOf("\0", at + 1)) separators++;
  return keys > 0 && separators !== 2 * keys - 1 ? "a header name or value holds a NUL" : undefined;
}

/**
 * Why a received block (`block`, decoded to `header`) is not one a ts-micro sender writes; at
 * most `maxHeaders` headers.
 */
export function receivedHeaderProblem(header: Header, block: Buffer, maxHeaders: number): string | undefined {
  let keys = 0;
  for (const key in header) {
    if (key.length === 0) return "a header has an empty name";
    if (++keys > maxHeaders) return `more than ${maxHeaders} headers`;
  }
  if (block.indexOf(CR) !== -1 || block.indexOf(LF) !== -1) return "a header name or value holds a line break";
  let separators = 0;
  for (let at = block.indexOf(NUL); at !== -1; at = block.indexOf(NUL, at + 1)) separators++;
  if (keys === 0 ? block.length > 0 : separators !== 2 * keys - 1) return "repeated header names or a name without a value";
  return undefined;
}
