/**
 * Requests for fuzzing the http broker's subscriber port: raw HTTP/1.1 bytes, made from a seed so
 * a failing case can be replayed. Half are generated (each part of a request chosen from valid,
 * borderline and broken forms), half are mutations of a valid delivery (bytes flipped, cut,
 * repeated, spliced).
 */
import { Random } from "./random.js";

export interface Target {
  /** The subscription's node id (the `?id=` of a valid delivery). */
  id: string;
  topic: string;
}

/** A valid delivery, as a Go Micro publisher sends it. */
export function validRequest(target: Target, body = validEnvelope(target.topic, "fuzz-valid")): Buffer {
  const head = `POST /?id=${encodeURIComponent(target.id)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}

function validEnvelope(topic: string, id: string): Buffer {
  return Buffer.from(
    JSON.stringify({ Header: { "Content-Type": "application/json", "Micro-Topic": topic, "Micro-Id": id }, Body: Buffer.from('{"n":1}').toString("base64") }),
  );
}

const METHODS = ["POST", "GET", "PUT", "DELETE", "OPTIONS", "post", "P\x00ST", "POSTPOSTPOST", ""];
const VERSIONS = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 extra", "HTTX/1.1", ""];

function path(r: Random, target: Target): string {
  switch (r.int(8)) {
    case 0:
      return "/";
    case 1:
      return `/?id=${"x".repeat(r.int(10_000))}`;
    case 2:
      return `/?id=${encodeURIComponent(target.id)}&id=other`;
    case 3:
      return `/?id=%${r.pick(["", "zz", "c3", "00", "ff"])}`;
    case 4:
      return `/${r
        .bytes(r.int(40))
        .toString("latin1")
        .replace(/[\r\n ]/g, "_")}`;
    default:
      return `/?id=${encodeURIComponent(target.id)}`;
  }
}

/** Header values that are wrong in some way, and right ones. */
function headers(r: Random, bodyLength: number): string[] {
  const out: string[] = [];
  if (r.int(10) > 0) out.push("Host: 127.0.0.1");
  switch (r.int(9)) {
    case 0:
      break; // no length: the body runs to the end of the connection
    case 1:
      out.push(`Content-Length: ${bodyLength + 1 + r.int(100)}`); // promises more than is sent
      break;
    case 2:
      out.push(`Content-Length: ${Math.max(0, bodyLength - 1 - r.int(10))}`);
      break;
    case 3:
      out.push(`Content-Length: ${r.pick(["-1", "abc", "99999999999999999999", "1e3", " 10"])}`);
      break;
    case 4:
      out.push(`Content-Length: ${bodyLength}`, `Content-Length: ${bodyLength + 5}`);
      break;
    case 5:
      out.push("Transfer-Encoding: chunked", `Content-Length: ${bodyLength}`);
      break;
    default:
      out.push(`Content-Length: ${bodyLength}`);
  }
  if (r.int(3) === 0) out.push(`Content-Type: ${r.pick(["application/json", "text/plain", "", "application/json; charset=utf-16", "\x00"])}`);
  if (r.int(8) === 0) out.push(`X-Big: ${"a".repeat(r.int(20_000))}`);
  if (r.int(8) === 0) for (let i = r.int(300); i > 0; i--) out.push(`X-${i}: ${i}`);
  if (r.int(10) === 0)
    out.push(
      `Bad Header\x01: ${r
        .bytes(8)
        .toString("latin1")
        .replace(/[\r\n]/g, "")}`,
    );
  if (r.int(10) === 0) out.push("Connection: close");
  return out;
}

/** A body: a valid envelope, one with a wrong shape, or not JSON at all. */
function body(r: Random, target: Target): Buffer {
  const topic = r.int(6) === 0 ? "some.other.topic" : target.topic;
  const b64 = Buffer.from('{"n":1}').toString("base64");
  const header = { "Micro-Topic": topic, "Content-Type": "application/json" };
  const shapes: Array<() => unknown> = [
    () => ({ Header: header, Body: b64 }),
    () => ({ Header: header }),
    () => ({ Body: b64 }),
    () => ({ Header: [topic], Body: b64 }),
    () => ({ Header: { "Micro-Topic": 7 }, Body: b64 }),
    () => ({ Header: { "Micro-Topic": null }, Body: b64 }),
    () => ({ Header: { "micro-topic": topic, "MICRO-TOPIC": "x" }, Body: b64 }),
    () => ({ Header: header, Body: 12 }),
    () => ({ Header: header, Body: "!!!not base64!!!" }),
    () => ({ Header: header, Body: b64, Extra: "x".repeat(r.int(5_000)) }),
    () => null,
    () => [1, 2, 3],
    () => "a string",
    () => 42,
  ];
  switch (r.int(10)) {
    case 0:
      return r.bytes(r.int(2_000)); // noise
    case 1:
      return Buffer.from("[".repeat(r.int(100_000))); // deep nesting
    case 2:
      return Buffer.from(`{"Header":{"Micro-Topic":"${topic}"},"Body":"${b64}"`); // cut short
    case 3:
      return Buffer.from(JSON.stringify({ Header: header, Body: r.bytes(r.int(3_000)).toString("base64") }).replace(/"/, r.int(2) ? "\ud800" : '"'));
    case 4:
      return Buffer.alloc(0);
    case 5:
      // a key JSON.parse makes an own property, which a hand-written parser might assign as the prototype
      return Buffer.from(`{"Header":{"__proto__":{"Micro-Topic":"${topic}"},"constructor":"x"},"Body":"${b64}"}`);
    default:
      return Buffer.from(JSON.stringify(r.pick(shapes)()));
  }
}

function generated(r: Random, target: Target): Buffer {
  const content = body(r, target);
  const line = `${r.pick(METHODS)} ${path(r, target)} ${r.pick(VERSIONS)}`;
  const chunked = r.int(6) === 0;
  const hs = headers(r, content.length);
  if (chunked) hs.push("Transfer-Encoding: chunked");
  const payload = chunked
    ? Buffer.concat([Buffer.from(`${content.length.toString(16)}\r\n`), content, Buffer.from(r.int(3) ? "\r\n0\r\n\r\n" : "\r\nzz\r\n")])
    : content;
  const eol = r.int(20) === 0 ? "\n" : "\r\n";
  return Buffer.concat([Buffer.from(`${line}${eol}${hs.join(eol)}${eol}${eol}`, "latin1"), payload]);
}

function mutated(r: Random, target: Target): Buffer {
  let bytes = validRequest(target);
  for (let n = 1 + r.int(4); n > 0; n--) {
    const at = r.int(bytes.length);
    switch (r.int(6)) {
      case 0: // flip bits
        bytes = Buffer.from(bytes);
        bytes[at] ^= 1 << r.int(8);
        break;
      case 1: // set a byte
        bytes = Buffer.from(bytes);
        bytes[at] = r.pick([0, 0x0a, 0x0d, 0x22, 0x3a, 0x5c, 0x7b, 0x7d, 0xff, r.int(256)]);
        break;
      case 2: // cut
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + r.int(32)))]);
        break;
      case 3: // insert noise
        bytes = Buffer.concat([bytes.subarray(0, at), r.bytes(1 + r.int(32)), bytes.subarray(at)]);
        break;
      case 4: {
        // repeat a slice
        const slice = bytes.subarray(at, at + 1 + r.int(64));
        bytes = Buffer.concat([bytes.subarray(0, at), ...Array.from({ length: 1 + r.int(50) }, () => slice), bytes.subarray(at)]);
        break;
      }
      default: // truncate
        bytes = bytes.subarray(0, at);
    }
  }
  return bytes;
}

/** Case `n` of the run seeded with `seed`. */
export function fuzzCase(seed: number, n: number, target: Target): Buffer {
  const r = new Random((seed * 1_000_003 + n) >>> 0);
  return r.int(2) === 0 ? generated(r, target) : mutated(r, target);
}
