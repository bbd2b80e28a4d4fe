/**
 * Inputs for fuzzing the HTTP transport's server: raw bytes a client could send on a connection,
 * made from a seed so that a failing case can be replayed. About half are generated (each part of
 * a request — start line, headers, framing, body — chosen from valid, borderline and broken
 * forms, sometimes several pipelined), most of the rest are mutations of valid Go Micro requests
 * (bytes flipped, inserted, cut, repeated, spliced), and a few are plain garbage. Each case also
 * says where its bytes are cut into separate writes and whether the client half-closes after.
 */

import { MicroHeader } from "../../src/metadata/headers.js";
import type { Random } from "./random.js";

export interface FuzzCase {
  /** What the client sends, in order. */
  bytes: Buffer;
  /** Offsets at which the bytes are split into separate writes (ascending, inside the bytes). */
  cuts: number[];
  /** The client half-closes after sending; otherwise the server's timeouts must end the connection. */
  end: boolean;
  kind: "generated" | "mutated" | "garbage";
}

/** What the fuzzed server serves (see the test): Fuzz.Echo, Fuzz.Fail and the server stream Fuzz.Count. */
export const ENDPOINTS = ["Fuzz.Echo", "Fuzz.Fail", "Fuzz.Count", "Fuzz.Missing", "Nope.Echo", ""] as const;

/** A valid Go Micro unary request, as Go Micro's HTTP transport writes it. */
export function validRequest(endpoint = "Fuzz.Echo", body = '{"n":1}\n', extra: Record<string, string> = {}): Buffer {
  const headers: Record<string, string> = {
    Host: "127.0.0.1:1",
    "User-Agent": "Go-http-client/1.1",
    "Content-Length": String(Buffer.byteLength(body)),
    Accept: "application/json",
    [MicroHeader.ContentType]: "application/json",
    [MicroHeader.Endpoint]: endpoint,
    [MicroHeader.Id]: "7",
    [MicroHeader.Method]: endpoint,
    [MicroHeader.Service]: "fuzz",
    [MicroHeader.Timeout]: "5000000000",
    ...extra,
  };
  const head = `POST / HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("")}\r\n`;
  return Buffer.concat([Buffer.from(head, "utf8"), Buffer.from(body, "utf8")]);
}

export function fuzzCase(r: Random): FuzzCase {
  const roll = r.next();
  let bytes: Buffer;
  let kind: FuzzCase["kind"];
  if (roll < 0.45) {
    kind = "generated";
    bytes = Buffer.concat(Array.from({ length: r.chance(0.8) ? 1 : 2 + r.int(3) }, () => generated(r)));
  } else if (roll < 0.95) {
    kind = "mutated";
    bytes = mutated(r);
  } else {
    kind = "garbage";
    bytes = r.bytes(1 + r.int(r.chance(0.5) ? 64 : 8192));
  }
  return { bytes, cuts: cutsFor(r, bytes.length), end: r.chance(0.85), kind };
}

/** Up to 8 cut points; sometimes the first bytes one at a time (the reader's partial paths). */
function cutsFor(r: Random, length: number): number[] {
  if (length < 2) return [];
  const cuts = new Set<number>();
  if (r.chance(0.1)) for (let i = 1; i < Math.min(length, 6); i++) cuts.add(i);
  for (let n = r.int(4); n > 0; n--) cuts.add(1 + r.int(length - 1));
  return [...cuts].sort((a, b) => a - b);
}

const METHODS = ["POST", "POST", "POST", "POST", "GET", "PUT", "post", "P\0ST", "", "POST POST", "PRI"];
const TARGETS = ["/", "/", "/", "/x?y=z", "*", "http://h:1/", "", "//", "/\x7f", "/\u00e9", "/a b"];
const VERSIONS = ["HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 ", "http/1.1", "", "HTTP/1.12"];
const EOLS = ["\r\n", "\r\n", "\r\n", "\r\n", "\n", "\r", "\n\r"];
const CONTENT_TYPES = [
  "application/json",
  "application/json",
  "application/protobuf",
  "application/msgpack",
  "text/plain",
  "application/grpc",
  "",
  "application/json; charset=utf-8",
  "x".repeat(300),
];
const TIMEOUTS = ["5000000000", "0", "-1", "abc", "99999999999999999999999", "1", "1e9", ""];
const BODIES = ['{"n":1}', '{"to":3}', "{}", "", "{", '{"n":', "null", "[1,2", "\u0000\u00ff\u00fe", '"\\ud800"', '{"__proto__":{"x":1}}', "9".repeat(400)];

/** One request, each part drawn from valid, borderline and broken forms. */
function generated(r: Random): Buffer {
  const eol = r.pick(EOLS);
  const lines: string[] = [`${r.pick(METHODS)} ${r.pick(TARGETS)} ${r.pick(VERSIONS)}`];
  const header = (name: string, value: string): number => lines.push(`${name}: ${value}`);
  const endpoint = r.pick(ENDPOINTS);
  if (r.chance(0.9)) header(MicroHeader.Endpoint, endpoint);
  if (r.chance(0.5)) header(MicroHeader.Method, endpoint);
  if (r.chance(0.7)) header(MicroHeader.Service, r.chance(0.9) ? "fuzz" : "other");
  if (r.chance(0.7)) header(MicroHeader.Id, String(r.int(1000)));
  if (r.chance(0.8)) header(MicroHeader.ContentType, r.pick(CONTENT_TYPES));
  if (r.chance(0.5)) header(MicroHeader.Timeout, r.pick(TIMEOUTS));
  if (r.chance(0.1)) header(MicroHeader.Stream, String(r.int(5)));
  if (r.chance(0.05)) header(MicroHeader.Error, r.chance(0.5) ? "EOS" : '{"id":"x","code":500}');
  if (r.chance(0.1)) header("Connection", r.pick(["close", "keep-alive", "Upgrade", ""]));
  if (r.chance(0.05)) header("Expect", "100-continue");
  for (let n = r.chance(0.05) ? 40 + r.int(400) : r.int(4); n > 0; n--) header(headerName(r), headerValue(r));
  const body = r.chance(0.1) ? r.bytes(r.int(r.chance(0.2) ? 100_000 : 2_000)) : Buffer.from(r.pick(BODIES), "latin1");
  const framed = framing(r, body, eol);
  lines.push(...framed.lines);
  return Buffer.concat([Buffer.from(lines.join(eol) + eol + eol, "utf8"), framed.body]);
}

function headerName(r: Random): string {
  switch (r.int(8)) {
    case 0:
      return "";
    case 1:
      return "Bad Name";
    case 2:
      return "X:Y";
    case 3:
      return "\u00c4rger";
    case 4:
      return r.bytes(1 + r.int(12)).toString("latin1");
    default:
      return `X-Fuzz-${r.int(100)}`;
  }
}

function headerValue(r: Random): string {
  switch (r.int(8)) {
    case 0:
      return "";
    case 1:
      return "v".repeat(r.int(20_000));
    case 2:
      return `a${r.pick(["\0", "\r", "\x01", "\x7f", "\t"])}b`;
    case 3:
      return "h\u00e9llo \u4e16\u754c";
    case 4:
      return r.bytes(r.int(40)).toString("latin1");
    default:
      return String(r.int(1_000_000));
  }
}

/** How the body is framed: right, wrong, conflicting or missing. */
function framing(r: Random, body: Buffer, eol: string): { lines: string[]; body: Buffer } {
  const length = body.length;
  switch (r.int(12)) {
    case 0:
      return { lines: [`Content-Length: ${length + 1 + r.int(10)}`], body };
    case 1:
      return { lines: [`Content-Length: ${Math.max(0, length - 1 - r.int(10))}`], body };
    case 2:
      return { lines: [`Content-Length: ${r.pick(["-1", "abc", "99999999999", "1e3", " 5", "5, 5", "0x10", ""])}`], body };
    case 3:
      return { lines: [`Content-Length: ${length}`, `Content-Length: ${r.chance(0.5) ? length : length + 1}`], body };
    case 4:
    case 5:
      return { lines: ["Transfer-Encoding: chunked"], body: chunked(r, body, eol) };
    case 6:
      return { lines: ["Transfer-Encoding: chunked", `Content-Length: ${length}`], body: chunked(r, body, eol) };
    case 7:
      return { lines: [`Transfer-Encoding: ${r.pick(["gzip", "chunked, gzip", "identity", "Chunked"])}`], body };
    case 8:
      return { lines: [], body };
    default:
      return { lines: [`Content-Length: ${length}`], body };
  }
}

/** The body in chunks; sometimes with extensions, trailers, a bad size or a missing terminator. */
function chunked(r: Random, body: Buffer, eol: string): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; ) {
    const size = Math.min(body.length - at, 1 + r.int(4096));
    const sizeText = r.chance(0.05) ? r.pick(["zz", "-1", "fffffffffffffffff", ""]) : size.toString(16);
    parts.push(Buffer.from(`${sizeText}${r.chance(0.1) ? ";ext=1" : ""}${eol}`), body.subarray(at, at + size), Buffer.from(r.chance(0.03) ? "XX" : eol));
    at += size;
  }
  if (r.chance(0.9)) parts.push(Buffer.from(`0${eol}${r.chance(0.2) ? `Trailer-Field: x${eol}` : ""}${eol}`));
  return Buffer.concat(parts);
}

/** Interesting insertions: framing pieces and bytes that change how a head is read. */
const DICTIONARY = [
  "\r\n",
  "\r\n\r\n",
  "\n\n",
  ":",
  " ",
  "\0",
  "\xff",
  "\t",
  "Content-Length: 5\r\n",
  "Transfer-Encoding: chunked\r\n",
  "0\r\n\r\n",
  "POST / HTTP/1.1\r\n",
  `${MicroHeader.Stream}: 1\r\n`,
  "Connection: close\r\n",
];

/** A valid request (or two, pipelined), then 1 to 8 byte-level mutations. */
function mutated(r: Random): Buffer {
  const base = (): Buffer => validRequest(r.pick(ENDPOINTS), r.pick(BODIES), r.chance(0.1) ? { [MicroHeader.Stream]: "1" } : {});
  let bytes = r.chance(0.7) ? base() : Buffer.concat([base(), base()]);
  for (let n = 1 + r.int(8); n > 0; n--) bytes = mutateOnce(r, bytes);
  return bytes.length > 0 ? bytes : Buffer.from("\r\n");
}

function mutateOnce(r: Random, bytes: Buffer): Buffer {
  if (bytes.length === 0) return bytes;
  const at = r.int(bytes.length);
  const out = Buffer.from(bytes);
  switch (r.int(7)) {
    case 0:
      out[at] ^= 1 << r.int(8);
      return out;
    case 1:
      out[at] = r.pick([0x00, 0x0a, 0x0d, 0x20, 0x3a, 0x7f, 0xff, 0x30, 0x39]);
      return out;
    case 2:
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(r.pick(DICTIONARY), "latin1"), bytes.subarray(at)]);
    case 3:
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + r.int(16)))]);
    case 4: {
      const piece = bytes.subarray(at, at + 1 + r.int(64));
      return Buffer.concat([
        bytes.subarray(0, at),
        ...Array.from({ length: 2 + r.int(r.chance(0.1) ? 200 : 4) }, () => piece),
        bytes.subarray(at + piece.length),
      ]);
    }
    case 5:
      return bytes.subarray(0, at);
    default: {
      const other = validRequest(r.pick(ENDPOINTS), r.pick(BODIES));
      return Buffer.concat([bytes.subarray(0, at), other.subarray(r.int(other.length))]);
    }
  }
}
