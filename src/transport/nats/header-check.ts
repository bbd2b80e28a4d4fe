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
  // One pass over the text (a header block is a few hundred bytes; a native call per search costs more).
  let separators = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > CR) continue;
    if (c === NUL) separators++;
    else if (c === CR || c === LF) return "a header name or value holds a line break";
  }
  return keys > 0 && separators !== 2 * keys - 1 ? "a header name or value holds a NUL" : undefined;
}

/**
 * Why a received block (`block`, decoded to `header`) is not one a ts-micro sender writes; at
 * most `maxHeaders` headers.
 */
export function receivedHeaderProblem(header: Header, block: Uint8Array, maxHeaders: number): string | undefined {
  let keys = 0;
  for (const key in header) {
    if (key.length === 0) return "a header has an empty name";
    if (++keys > maxHeaders) return `more than ${maxHeaders} headers`;
  }
  let separators = 0;
  for (let i = 0; i < block.length; i++) {
    const c = block[i];
    if (c > CR) continue;
    if (c === NUL) separators++;
    else if (c === CR || c === LF) return "a header name or value holds a line break";
  }
  if (keys === 0 ? block.length > 0 : separators !== 2 * keys - 1) return "repeated header names or a name without a value";
  return undefined;
}
