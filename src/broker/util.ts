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
  const header: Header = {};
  for (const [key, value] of Object.entries((Header ?? {}) as Record<string, unknown>)) header[key] = String(value);
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

/**
 * Runs one subscription's handler: in arrival order, at most `concurrency` at once, settling each
 * message exactly once (an explicit ack()/nack() from the handler wins over autoAck).
 */
export class Dispatcher {
  private running = 0;
  // A FIFO with a moving head: Array.shift() is O(n), and bursts queue many thousands.
  private queue: Array<{ delivery: Delivery; done: () => void }> = [];
  private head = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly handler: BrokerHandler,
    private readonly options: { autoAck: boolean; concurrency: number; log: Logger },
  ) {}

  /** Queues a delivery; resolves once its handler has finished and it is settled. */
  push(delivery: Delivery): Promise<void> {
    return new Promise((done) => {
      if (this.running < this.options.concurrency) this.run(delivery, done);
      else this.queue.push({ delivery, done });
    });
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

  /** Drops queued deliveries that have not started (they are not acked, so brokers that can, redeliver). */
  clear(): void {
    const dropped = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    for (const { done } of dropped) done();
    this.checkIdle();
  }

  private run(delivery: Delivery, done: () => void): void {
    this.running++;
    void this.handle(delivery).finally(() => {
      this.running--;
      done();
      const next = this.next();
      if (next) this.run(next.delivery, next.done);
      else this.checkIdle();
    });
  }

  private next(): { delivery: Delivery; done: () => void } | undefined {
    if (this.head === this.queue.length) return undefined;
    const item = this.queue[this.head++];
    if (this.head === this.queue.length || this.head > 4_096) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  private async handle(delivery: Delivery): Promise<void> {
    const event = settleOnce(delivery, this.options.log);
    try {
      await this.handler(event);
      if (this.options.autoAck) await event.ack();
    } catch (err) {
      this.options.log.error("subscriber failed; message not acknowledged", { topic: delivery.topic, err: err instanceof Error ? err.message : String(err) });
      if (this.options.autoAck) await event.nack();
    }
  }

  private checkIdle(): void {
    if (this.pending === 0 && this.idleWaiters.length > 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

/** A BrokerEvent whose ack/nack reach the driver at most once, and never throw at the handler. */
function settleOnce(delivery: Delivery, log: Logger): BrokerEvent & { settled: boolean } {
  let settled = false;
  const settle = async (what: "ack" | "nack", run: (() => Promise<void> | void) | undefined): Promise<void> => {
    if (settled) return;
    settled = true;
    try {
      await run?.();
    } catch (err) {
      log.warn(`${what} failed`, { topic: delivery.topic, err: (err as Error).message });
    }
  };
  return {
    topic: delivery.topic,
    message: delivery.message,
    get settled() {
      return settled;
    },
    ack: () => settle("ack", delivery.ack),
    nack: (options?: NackOptions) => settle("nack", delivery.nack && (() => delivery.nack!(options?.requeue ?? true))),
  };
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
