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
 */
export function encodeEnvelope(message: BrokerMessage): Buffer {
  const body = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength).toString("base64");
  return Buffer.from(`{"Header":${JSON.stringify(message.header)},"Body":"${body}"}`);
}

/** Parses an envelope; throws on anything that is not one (the caller logs and drops it). */
export function decodeEnvelope(bytes: Uint8Array | string): BrokerMessage {
  const text = typeof bytes === "string" ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
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

/**
 * Like decodeEnvelope, but bytes that are not an envelope (say, `nats pub topic '{"id":7}'` from a
 * tool) become the body of a message without headers, so plain publishers can reach subscribers.
 */
export function unwrapMessage(bytes: Uint8Array): BrokerMessage {
  const first = bytes.length > 0 ? bytes[0] : 0;
  if (first === 0x7b /* { */) {
    try {
      const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
      if (text.startsWith('{"Header"') || text.startsWith('{"Body"')) return decodeEnvelope(text);
    } catch {
      // not an envelope after all: deliver the bytes as they are
    }
  }
  return { header: {}, body: bytes };
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

/**
 * Loads an optional peer dependency, or fails with the command that installs it. The specifier
 * goes through a variable so TypeScript and bundlers leave the import lazy.
 */
export async function loadDriver<T>(specifier: string, plugin: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" && String((err as Error).message).includes(specifier)) {
      throw new Error(`the ${plugin} plugin needs the package ${specifier}: npm install ${specifier}`);
    }
    throw err;
  }
}

/** Runs `open` once; concurrent callers share it; a failure lets the next caller try again. */
export class Once<T> {
  private promise: Promise<T> | undefined;
  constructor(private readonly open: () => Promise<T>) {}
  get(): Promise<T> {
    return (this.promise ??= this.open().catch((err: unknown) => {
      this.promise = undefined;
      throw err;
    }));
  }
  reset(): void {
    this.promise = undefined;
  }
}

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
}
