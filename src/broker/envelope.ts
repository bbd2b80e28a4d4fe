/**
 * Go Micro's message envelope: `json.Marshal(broker.Message)`, that is
 * `{"Header":{…},"Body":"<base64>"}` (Go has no json tags on the struct and encodes []byte as
 * base64). The http, nats, redis and mqtt brokers put it on the wire so Go Micro services read
 * what we publish and we read what they publish.
 */
import type { BrokerMessage, Header } from "./broker.js";

/**
 * The envelope of `message`. On every publish, so the usual case (header keys and values that
 * need no JSON escapes) is written straight into one buffer: no JSON.stringify and no UTF-8 pass
 * over the whole message (bench/broker.ts: worth ~10 % of http broker throughput).
 */
export function encodeEnvelope(message: BrokerMessage): Buffer {
  const head = plainEnvelopeHead(message.header);
  if (head === undefined) return encodeEnvelopeJson(message);
  const base64 = asBuffer(message.body).toString("base64");
  const out = Buffer.allocUnsafe(head.length + base64.length + 2);
  let at = out.write(head, 0, "latin1");
  at += out.write(base64, at, "latin1");
  out[at] = 0x22; // "
  out[at + 1] = 0x7d; // }
  return out;
}

/** The general encoder, for headers with characters JSON must escape (or non-ASCII ones). */
function encodeEnvelopeJson(message: BrokerMessage): Buffer {
  return Buffer.from(`{"Header":${JSON.stringify(message.header)},"Body":"${asBuffer(message.body).toString("base64")}"}`);
}

/** Printable ASCII but `"` and `\`: a JSON string that is its own encoding, one byte a character. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** `{"Header":{"K":"V",…},"Body":"` when every key and value is PLAIN, else undefined. */
function plainEnvelopeHead(header: Header): string | undefined {
  let head = '{"Header":{';
  let first = true;
  for (const key in header) {
    const value = header[key];
    if (typeof value !== "string" || !PLAIN.test(key) || !PLAIN.test(value)) return undefined;
    head += `${first ? "" : ","}"${key}":"${value}"`;
    first = false;
  }
  return `${head}},"Body":"`;
}

/** Parses an envelope; throws an Error saying what is wrong with anything that is not one. */
export function decodeEnvelope(bytes: Uint8Array | string): BrokerMessage {
  const text = typeof bytes === "string" ? bytes : asBuffer(bytes).toString("utf8");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`message is not JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error("message is not a JSON object");
  const { Header, Body } = raw as { Header?: unknown; Body?: unknown };
  if (Header !== undefined && Header !== null && (typeof Header !== "object" || Array.isArray(Header))) throw new Error("message Header is not an object");
  if (Body !== undefined && Body !== null && typeof Body !== "string") throw new Error("message Body is not a base64 string");
  const header = (Header ?? {}) as Header;
  // Go Micro sends strings; anything else is made one, in place (the object is ours).
  for (const key in header) if (typeof header[key] !== "string") header[key] = String(header[key]);
  return { header, body: Body ? Buffer.from(Body as string, "base64") : Buffer.alloc(0) };
}

const ENVELOPE_OPENINGS = [Buffer.from('{"Header"'), Buffer.from('{"Body"')];

/**
 * Like decodeEnvelope, but bytes that are not an envelope (say, `nats pub topic '{"id":7}'` from a
 * tool) become the body of a message without headers, so plain publishers can reach subscribers.
 */
export function unwrapMessage(bytes: Uint8Array): BrokerMessage {
  const buffer = asBuffer(bytes);
  if (ENVELOPE_OPENINGS.some((opening) => buffer.length >= opening.length && opening.compare(buffer, 0, opening.length) === 0)) {
    try {
      return decodeEnvelope(buffer);
    } catch {
      // not an envelope after all: deliver the bytes as they are
    }
  }
  return { header: {}, body: bytes };
}

/** A Buffer view of the bytes (no copy), for Buffer's string and search methods. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
