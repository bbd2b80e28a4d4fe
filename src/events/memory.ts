/**
 * An in-process event stream with the semantics of the durable one: events are kept, groups keep
 * their position and share events among their consumers, unacked events come back after
 * `ackWait`, nacked ones at once (or after their delay), up to `retryLimit` redeliveries. Nothing
 * survives the process: for tests and single-process programs.
 */
import { randomUUID } from "../driver/crypto.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import {
  type ConsumeOptions,
  type Consumer,
  decodeJson,
  type Event,
  type EventHandler,
  type EventPublishOptions,
  encodePayload,
  type Stream,
  type TopicInfo,
} from "./events.js";

interface Stored {
  id: string;
  topic: string;
  timestamp: Date;
  metadata: Record<string, string>;
  payload: Uint8Array;
  sequence: number;
}

interface Pending {
  attempt: number;
  consumer: MemoryConsumer | undefined;
  timer: NodeJS.Timeout | undefined;
}

interface MemoryConsumer {
  handler: EventHandler<unknown>;
  running: number;
  concurrency: number;
  autoAck: boolean;
  stopped: boolean;
}

interface Group {
  /** The next sequence not yet delivered. */
  next: number;
  /** Sequences to deliver again, oldest first. */
  redeliver: number[];
  pending: Map<number, Pending>;
  consumers: MemoryConsumer[];
  turn: number;
  ackWait: number;
  retryLimit: number;
}

interface Topic {
  events: Stored[];
  groups: Map<string, Group>;
}

export class MemoryStream implements Stream {
  readonly name = "memory";
  private readonly byTopic = new Map<string, Topic>();
  private readonly consumers = new Set<Consumer>();
  private readonly log: Logger;

  constructor(options: { logger?: Logger } = {}) {
    this.log = options.logger ?? defaultLogger();
  }

  /** The topics published to or consumed in this process (nothing else can see them). */
  async topics(): Promise<TopicInfo[]> {
    const out: TopicInfo[] = [];
    for (const [topic, { events }] of this.byTopic) {
      const last = events.at(-1);
      out.push({ topic, events: events.length, lastSequence: last?.sequence ?? 0, lastTimestamp: last?.timestamp });
    }
    return out.sort((a, b) => a.topic.localeCompare(b.topic));
  }

  async publish(topic: string, payload: unknown, options: EventPublishOptions = {}): Promise<void> {
    const t = this.topic(topic);
    t.events.push({
      id: options.id ?? randomUUID(),
      topic,
      timestamp: options.timestamp ?? new Date(),
      metadata: { ...options.metadata },
      payload: encodePayload(payload),
      sequence: t.events.length + 1,
    });
    for (const group of t.groups.values()) this.pump(t, group);
  }

  async consume<T = unknown>(topic: string, handler: EventHandler<T>, options: ConsumeOptions = {}): Promise<Consumer> {
    const t = this.topic(topic);
    const name = options.group ?? `ephemeral-${randomUUID()}`;
    let group = t.groups.get(name);
    if (!group) {
      group = {
        next: this.start(t, options),
        redeliver: [],
        pending: new Map(),
        consumers: [],
        turn: 0,
        ackWait: options.ackWait ?? 30_000,
        retryLimit: options.retryLimit ?? Infinity,
      };
      t.groups.set(name, group);
    }
    const consumer: MemoryConsumer = {
      handler: handler as EventHandler<unknown>,
      running: 0,
      concurrency: options.concurrency ?? 1,
      autoAck: options.autoAck ?? true,
      stopped: false,
    };
    group.consumers.push(consumer);
    const g = group;
    const handle: Consumer = {
      topic,
      group: options.group,
      stop: async () => {
        if (consumer.stopped) return;
        consumer.stopped = true;
        this.consumers.delete(handle);
        g.consumers = g.consumers.filter((c) => c !== consumer);
        if (!options.group) t.groups.delete(name);
      },
    };
    this.consumers.add(handle);
    this.pump(t, group);
    return handle;
  }

  async close(): Promise<void> {
    for (const consumer of [...this.consumers]) await consumer.stop();
  }

  private topic(name: string): Topic {
    let t = this.byTopic.get(name);
    if (!t) {
      t = { events: [], groups: new Map() };
      this.byTopic.set(name, t);
    }
    return t;
  }

  /** The first sequence a new group gets. */
  private start(t: Topic, options: ConsumeOptions): number {
    const { offset } = options;
    if (typeof offset === "number") return Math.max(1, offset);
    if (offset instanceof Date) return t.events.find((e) => e.timestamp >= offset)?.sequence ?? t.events.length + 1;
    return options.group ? 1 : t.events.length + 1;
  }

  /** Hands out events while some consumer of the group has room. */
  private pump(t: Topic, group: Group): void {
    for (;;) {
      const consumer = this.freeConsumer(group);
      if (!consumer) return;
      const sequence = group.redeliver.shift() ?? (group.next <= t.events.length ? group.next++ : undefined);
      if (sequence === undefined) return;
      this.deliver(t, group, consumer, t.events[sequence - 1]);
    }
  }

  private freeConsumer(group: Group): MemoryConsumer | undefined {
    for (let i = 0; i < group.consumers.length; i++) {
      const c = group.consumers[(group.turn + i) % group.consumers.length];
      if (c.running < c.concurrency) {
        group.turn = (group.turn + i + 1) % group.consumers.length;
        return c;
      }
    }
    return undefined;
  }

  private deliver(t: Topic, group: Group, consumer: MemoryConsumer, stored: Stored): void {
    const pending = group.pending.get(stored.sequence) ?? { attempt: 0, consumer, timer: undefined };
    pending.attempt++;
    pending.consumer = consumer;
    if (pending.attempt > group.retryLimit + 1) {
      this.log.warn("events: giving up on an event after its retry limit", { topic: stored.topic, sequence: stored.sequence });
      group.pending.delete(stored.sequence);
      return;
    }
    group.pending.set(stored.sequence, pending);
    let settled = false;
    const settle = (redeliverAfter: number | undefined): void => {
      if (settled || group.pending.get(stored.sequence) !== pending) return;
      settled = true;
      clearTimeout(pending.timer);
      if (redeliverAfter === undefined) {
        group.pending.delete(stored.sequence);
        return;
      }
      setTimeout(() => {
        group.redeliver.push(stored.sequence);
        this.pump(t, group);
      }, redeliverAfter).unref();
    };
    pending.timer = setTimeout(() => settle(0), group.ackWait).unref();
    const event: Event = {
      ...stored,
      attempt: pending.attempt,
      json: () => decodeJson(stored.payload),
      ack: async () => settle(undefined),
      nack: async (delay = 0) => settle(delay),
    };
    consumer.running++;
    void (async () => {
      try {
        await consumer.handler(event);
        if (consumer.autoAck) await event.ack();
      } catch (err) {
        this.log.error("event handler failed; the event will be delivered again", {
          topic: stored.topic,
          sequence: stored.sequence,
          err: err instanceof Error ? err.message : String(err),
        });
        if (consumer.autoAck) await event.nack();
      } finally {
        consumer.running--;
        this.pump(t, group);
      }
    })();
  }
}
