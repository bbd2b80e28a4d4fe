/**
 * Runs one subscription's handler for a driver: arrival order, a concurrency limit and the ack
 * policy (autoAck, and an explicit ack()/nack() from the handler winning over it). Every broker
 * driver hands its deliveries to one of these.
 */
import type { Logger } from "../logger/logger.js";
import type { BrokerEvent, BrokerHandler, BrokerMessage, NackOptions } from "./broker.js";

/** The driver-specific part of one delivery. */
export interface Delivery {
  topic: string;
  message: BrokerMessage;
  /** Which delivery of the message this is, from 1, where the driver counts them. */
  attempt?: number;
  ack?: () => Promise<void> | void;
  nack?: (requeue: boolean, reason?: string) => Promise<void> | void;
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
    const settled = this.options.autoAck ? event.settle("nack", true, err instanceof Error ? err.message : String(err)) : undefined;
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
  readonly attempt: number | undefined;
  private settled = false;

  constructor(
    private readonly delivery: Delivery,
    private readonly log: Logger,
  ) {
    this.topic = delivery.topic;
    this.message = delivery.message;
    this.attempt = delivery.attempt;
  }

  ack(): Promise<void> {
    return this.settle("ack") ?? Promise.resolve();
  }

  nack(options?: NackOptions): Promise<void> {
    return this.settle("nack", options?.requeue ?? true, options?.reason) ?? Promise.resolve();
  }

  /** Runs the driver's ack or nack once; a promise only when the driver's is asynchronous. */
  settle(what: "ack" | "nack", requeue = true, reason?: string): Promise<void> | undefined {
    if (this.settled) return undefined;
    this.settled = true;
    const run = what === "ack" ? this.delivery.ack : this.delivery.nack && (() => this.delivery.nack!(requeue, reason));
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
