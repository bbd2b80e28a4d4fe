/**
 * Pieces every broker shares: Go Micro's JSON message envelope, the per-subscription dispatcher
 * (arrival order, concurrency limit, ack policy), lazy loading of optional drivers, and
 * once-only connection setup.
 */
import type { Logger } from "../logger/logger.js";
import type { BrokerEvent, BrokerHandler, BrokerMessage, Header, NackOptions } from "./broker.js";

/**
 * Go Micro's `json.Marshal(broker.Message)`: `{"Header":{…},"Body":"<base64>"}` (Go has no json
 * tags on the struct, and encodes []byte as base64). Used on the wire by the http, nats, redis and
 * mqtt brokers so Go Micro services can read what we publish.
 *
 * This is on every publish, so the usual case (header keys and values that need no JSON escapes)
 * is written straight into one buffer: no JSON.stringify and no UTF-8 pass over the whole message.
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
  return head + '},"Body":"';
}

/** Parses an envelope; throws on anything that is not one (the caller logs and drops it). */
export function decodeEnvelope(bytes: Uint8Array | string): BrokerMessage {
  return (typeof bytes === "string" ? undefined : decodeEnvelopeLayout(bytes)) ?? decodeEnvelopeJson(bytes);
}

function decodeEnvelopeJson(bytes: Uint8Array | string): BrokerMessage {
  const text = typeof bytes === "string" ? bytes : asBuffer(bytes).toString("utf8");
  const raw: unknown = JSON.parse(text);
  if (typeof raw !== "object" || raw === null) throw new Error("message is not a JSON object");
  const { Header, Body } = raw as { Header?: unknown; Body?: unknown };
  if (Header !== undefined && Header !== null && typeof Header !== "object") throw new Error("message Header is not an object");
  if (Body !== undefined && Body !== null && typeof Body !== "string") throw new Error("message Body is not a base64 string");
  const header = (Header ?? {}) as Header;
  // Go Micro sends strings; anything else is made one, in place (the object is ours).
  for (const key in header) if (typeof header[key] !== "string") header[key] = String(header[key]);
  return { header, body: Body ? Buffer.from(Body as string, "base64") : Buffer.alloc(0) };
}

const HEADER_FIELD = '{"Header":';
const BODY_FIELD = ',"Body":"';

/**
 * The layout Go's json.Marshal and encodeEnvelope both write — `{"Header":{"K":"V",…},"Body":"<padded
 * base64>"}`, no whitespace, no escapes — read with byte loops instead of JSON.parse: a string of
 * the whole message and Buffer's base64 decoder cost more than the work itself at this size.
 * Undefined for any other layout, which the JSON path then reads (or rejects).
 */
function decodeEnvelopeLayout(bytes: Uint8Array): BrokerMessage | undefined {
  const n = bytes.length;
  if (n < HEADER_FIELD.length + BODY_FIELD.length + 2 || bytes[n - 1] !== 0x7d || bytes[n - 2] !== 0x22) return undefined;
  for (let i = 0; i < HEADER_FIELD.length; i++) if (bytes[i] !== HEADER_FIELD.charCodeAt(i)) return undefined;
  // Body is the last field and base64 has no quote: the last quote but one opens its value.
  const buffer = asBuffer(bytes);
  const end = n - 2;
  const start = buffer.lastIndexOf(0x22, end - 1) + 1;
  const field = start - BODY_FIELD.length;
  if (field < HEADER_FIELD.length) return undefined;
  for (let i = 0; i < BODY_FIELD.length; i++) if (bytes[field + i] !== BODY_FIELD.charCodeAt(i)) return undefined;
  const body = base64Decode(buffer, start, end);
  if (body === undefined) return undefined;
  const header = parseFlatObject(buffer.toString("utf8", HEADER_FIELD.length, field));
  if (header === undefined) return undefined;
  return { header, body };
}

/** Control characters are invalid in a JSON string: leave such input to JSON.parse to reject. */
const CONTROL = /[\x00-\x1f]/;

/** `{"K":"V",…}` (no escapes, no whitespace, string values) as an object; undefined otherwise. */
function parseFlatObject(text: string): Header | undefined {
  if (text.charCodeAt(0) !== 0x7b || text.includes("\\") || CONTROL.test(text)) return undefined;
  const object: Header = {};
  if (text === "{}") return object;
  for (let at = 1; ; ) {
    if (text.charCodeAt(at) !== 0x22) return undefined;
    const keyEnd = text.indexOf('"', at + 1);
    if (keyEnd < 0 || text.charCodeAt(keyEnd + 1) !== 0x3a || text.charCodeAt(keyEnd + 2) !== 0x22) return undefined;
    const valueEnd = text.indexOf('"', keyEnd + 3);
    if (valueEnd < 0) return undefined;
    const key = text.slice(at + 1, keyEnd);
    // Assigning __proto__ would set the prototype; JSON.parse makes it an own property.
    if (key === "__proto__") return undefined;
    object[key] = text.slice(keyEnd + 3, valueEnd);
    const next = text.charCodeAt(valueEnd + 1);
    if (next === 0x7d) return valueEnd + 2 === text.length ? object : undefined;
    if (next !== 0x2c) return undefined;
    at = valueEnd + 2;
  }
}

/**
 * Like decodeEnvelope, but bytes that are not an envelope (say, `nats pub topic '{"id":7}'` from a
 * tool) become the body of a message without headers, so plain publishers can reach subscribers.
 */
export function unwrapMessage(bytes: Uint8Array): BrokerMessage {
  if (bytes.length > 0 && bytes[0] === 0x7b /* { */) {
    const message = decodeEnvelopeLayout(bytes);
    if (message) return message;
    const buffer = asBuffer(bytes);
    if (ENVELOPE_OPENINGS.some((opening) => buffer.length >= opening.length && opening.compare(buffer, 0, opening.length) === 0)) {
      try {
        return decodeEnvelopeJson(buffer);
      } catch {
        // not an envelope after all: deliver the bytes as they are
      }
    }
  }
  return { header: {}, body: bytes };
}

const ENVELOPE_OPENINGS = [Buffer.from('{"Header"'), Buffer.from('{"Body"')];

/** A Buffer view of the bytes (no copy), for Buffer's string and search methods. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Each byte's value in standard base64, -1 for bytes outside its alphabet. */
const BASE64_VALUES = new Int8Array(256).fill(-1);
for (const [value, char] of [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].entries()) BASE64_VALUES[char.charCodeAt(0)] = value;

/**
 * Bodies whose base64 is at most this long decode in the loop below: for the short bodies events
 * usually have it takes half the time of a latin1 string through Buffer.from; longer ones go native.
 */
const JS_BASE64_MAX = 256;

/**
 * Decodes `bytes[start, end)` if it is padded standard base64; undefined otherwise, leaving the
 * message to the JSON path (whose Buffer.from quietly skips what is not base64).
 */
function base64Decode(bytes: Buffer, start: number, end: number): Buffer | undefined {
  const length = end - start;
  if (length % 4 !== 0) return undefined;
  const pad = length === 0 || bytes[end - 1] !== 0x3d ? 0 : bytes[end - 2] !== 0x3d ? 1 : 2;
  const size = (length / 4) * 3 - pad;
  if (length > JS_BASE64_MAX) {
    const out = Buffer.from(bytes.toString("latin1", start, end), "base64");
    return out.length === size ? out : undefined; // shorter when something was skipped
  }
  const out = Buffer.allocUnsafe(size);
  const values = BASE64_VALUES;
  const full = pad > 0 ? end - 4 : end;
  let invalid = 0; // negative once any character was outside the alphabet (value -1)
  let at = 0;
  let i = start;
  for (; i < full; i += 4) {
    const v = (values[bytes[i]] << 18) | (values[bytes[i + 1]] << 12) | (values[bytes[i + 2]] << 6) | values[bytes[i + 3]];
    invalid |= v;
    out[at++] = v >> 16;
    out[at++] = (v >> 8) & 255;
    out[at++] = v & 255;
  }
  if (pad > 0) {
    const v = (values[bytes[i]] << 18) | (values[bytes[i + 1]] << 12) | (pad === 1 ? values[bytes[i + 2]] << 6 : 0);
    invalid |= v;
    out[at++] = v >> 16;
    if (pad === 1) out[at++] = (v >> 8) & 255;
  }
  return invalid < 0 ? undefined : out;
}

/** A header value by case-insensitive key (Go canonicalises `Micro-ID` vs `Micro-Id` differently by version). */
export function headerValue(header: Header, key: string): string | undefined {
  if (key in header) return header[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(header)) if (k.toLowerCase() === lower) return header[k];
  return undefined;
}

/** The driver-specific part of one delivery. */
export interface Delivery {
  topic: string;
  message: BrokerMessage;
  ack?: () => Promise<void> | void;
  nack?: (requeue: boolean) => Promise<void> | void;
}

type Done = (() => void) | undefined;

/**
 * Runs one subscription's handler: in arrival order, at most `concurrency` at once, settling each
 * message exactly once (an explicit ack()/nack() from the handler wins over autoAck). The hot
 * path allocates one event per message and no promise when the handler is synchronous.
 */
export class Dispatcher {
  private running = 0;
  // A FIFO with a moving head: Array.shift() is O(n), and bursts queue many thousands.
  private queue: Array<{ delivery: Delivery; done: Done }> = [];
  private head = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly handler: BrokerHandler,
    private readonly options: { autoAck: boolean; concurrency: number; log: Logger },
  ) {}

  /** Queues a delivery; `done` is called once its handler has finished and it is settled. */
  push(delivery: Delivery, done?: () => void): void {
    if (this.running < this.options.concurrency) this.run(delivery, done);
    else this.queue.push({ delivery, done });
  }

  /** Like push, resolving when the delivery is settled. */
  pushAndWait(delivery: Delivery): Promise<void> {
    return new Promise((resolve) => this.push(delivery, resolve));
  }

  /** Deliveries queued or running. */
  get pending(): number {
    return this.running + this.queue.length - this.head;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private run(delivery: Delivery, done: Done): void {
    this.running++;
    const event = new SettleOnce(delivery, this.options.log);
    let result: Promise<void> | void;
    try {
      result = this.handler(event);
    } catch (err) {
      return this.failed(event, err, done);
    }
    if (result && typeof (result as Promise<void>).then === "function") {
      (result as Promise<void>).then(
        () => this.succeeded(event, done),
        (err: unknown) => this.failed(event, err, done),
      );
    } else this.succeeded(event, done);
  }

  private succeeded(event: SettleOnce, done: Done): void {
    const settled = this.options.autoAck ? event.settle("ack") : undefined;
    if (settled) void settled.then(() => this.finish(done));
    else this.finish(done);
  }

  private failed(event: SettleOnce, err: unknown, done: Done): void {
    this.options.log.error("subscriber failed; message not acknowledged", { topic: event.topic, err: err instanceof Error ? err.message : String(err) });
    const settled = this.options.autoAck ? event.settle("nack", true) : undefined;
    if (settled) void settled.then(() => this.finish(done));
    else this.finish(done);
  }

  private finish(done: Done): void {
    this.running--;
    done?.();
    const next = this.next();
    if (next) this.run(next.delivery, next.done);
    else if (this.pending === 0 && this.idleWaiters.length > 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private next(): { delivery: Delivery; done: Done } | undefined {
    if (this.head === this.queue.length) return undefined;
    const item = this.queue[this.head++];
    if (this.head === this.queue.length || this.head > 4_096) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/** A BrokerEvent whose ack/nack reach the driver at most once, and never throw at the handler. */
class SettleOnce implements BrokerEvent {
  readonly topic: string;
  readonly message: BrokerMessage;
  private settled = false;

  constructor(
    private readonly delivery: Delivery,
    private readonly log: Logger,
  ) {
    this.topic = delivery.topic;
    this.message = delivery.message;
  }

  ack(): Promise<void> {
    return this.settle("ack") ?? Promise.resolve();
  }

  nack(options?: NackOptions): Promise<void> {
    return this.settle("nack", options?.requeue ?? true) ?? Promise.resolve();
  }

  /** Runs the driver's ack or nack once; a promise only when the driver's is asynchronous. */
  settle(what: "ack" | "nack", requeue = true): Promise<void> | undefined {
    if (this.settled) return undefined;
    this.settled = true;
    const run = what === "ack" ? this.delivery.ack : this.delivery.nack && (() => this.delivery.nack!(requeue));
    if (!run) return undefined;
    const fail = (err: unknown): void => this.log.warn(`${what} failed`, { topic: this.topic, err: (err as Error).message });
    try {
      const result = run();
      return result && typeof result.then === "function" ? result.then(undefined, fail) : undefined;
    } catch (err) {
      fail(err);
      return undefined;
    }
  }
}

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
}
