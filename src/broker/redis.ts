/**
 * Redis broker (`ioredis`, an optional peer dependency), built on Redis Streams rather than
 * PUBLISH/SUBSCRIBE:
 *
 * - a topic is a stream (`<prefix><topic>`, capped near `maxLen` entries); publish is one XADD;
 * - a subscriber without a queue reads the stream from where it was when it subscribed (XREAD),
 *   so fan-out survives a dropped connection without losing what was published meanwhile;
 * - a queue group is a stream consumer group (XREADGROUP): Redis hands each entry to one member,
 *   an entry stays pending until it is acked (XACK), a nacked entry is handled again after
 *   `redeliveryDelay`, and entries left pending by a member that died are claimed by another
 *   after `ackWait` (XAUTOCLAIM).
 *
 * Plain pub/sub would lose messages on every reconnect and cannot do queue groups; lists could do
 * queues only if publishers knew every group. Streams give both with one write per message.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { Redis as RedisClient, RedisOptions } from "ioredis";
import { randomUUID } from "../driver/crypto.js";
import { loadDriver } from "../driver/driver.js";
import { Lazy } from "../driver/lazy.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import type { Broker, BrokerHandler, BrokerMessage, SubscribeOptions, Subscriber } from "./broker.js";
import { Dispatcher } from "./dispatcher.js";

export interface RedisBrokerOptions {
  /** `host:port` or `redis://…` (default `127.0.0.1:6379`; `MICRO_BROKER_ADDRESS`). */
  address?: string;
  /** Key prefix of topic streams (default `micro:topic:`). */
  prefix?: string;
  /** Approximate cap on entries kept per topic stream (default 100,000). */
  maxLen?: number;
  /** Milliseconds before an entry a group member took and never acked goes to another member (default 30 s). */
  ackWait?: number;
  /** Milliseconds before a nacked entry is handled again (default 200). */
  redeliveryDelay?: number;
  /** Entries read per round trip (default 256). */
  batch?: number;
  /** Extra ioredis options. */
  connection?: RedisOptions;
  logger?: Logger;
}

type RedisDriver = typeof import("ioredis");
type Entry = [id: string, fields: Buffer[]];

interface RedisSubscription extends Subscriber {
  stopped: boolean;
  connection: RedisClient;
  done: Promise<void>;
}

export class RedisBroker implements Broker {
  readonly name = "redis";
  readonly address: string;
  private readonly log: Logger;
  private readonly prefix: string;
  private readonly connection: Lazy<RedisClient>;
  private readonly subscriptions = new Set<RedisSubscription>();

  constructor(private readonly options: RedisBrokerOptions = {}) {
    this.address = options.address ?? process.env.MICRO_BROKER_ADDRESS ?? "127.0.0.1:6379";
    this.prefix = options.prefix ?? "micro:topic:";
    this.log = options.logger ?? defaultLogger();
    this.connection = new Lazy(() => this.open());
  }

  async connect(): Promise<void> {
    await this.connection.get();
  }

  async disconnect(): Promise<void> {
    for (const s of [...this.subscriptions]) await s.unsubscribe();
    const opening = this.connection;
    const redis = await opening.get().catch(() => undefined);
    opening.reset();
    if (redis) await redis.quit().catch(() => redis.disconnect());
  }

  async publish(topic: string, message: BrokerMessage): Promise<void> {
    const redis = await this.connection.get();
    const maxLen = this.options.maxLen ?? 100_000;
    await redis.xadd(
      this.key(topic),
      "MAXLEN",
      "~",
      maxLen,
      "*",
      "header",
      JSON.stringify(message.header),
      "body",
      Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
    );
  }

  async subscribe(topic: string, handler: BrokerHandler, options: SubscribeOptions = {}): Promise<Subscriber> {
    const redis = await this.connection.get();
    // Blocking reads need a connection of their own.
    const connection = redis.duplicate();
    const queue = options.queue || undefined;
    const dispatcher = new Dispatcher(handler, { autoAck: options.autoAck ?? true, concurrency: options.concurrency ?? 1, log: this.log });
    const subscription: RedisSubscription = {
      topic,
      queue,
      stopped: false,
      connection,
      done: Promise.resolve(),
      unsubscribe: async () => {
        if (subscription.stopped) return;
        subscription.stopped = true;
        this.subscriptions.delete(subscription);
        connection.disconnect(); // ends a blocking read at once
        await subscription.done;
        await dispatcher.idle();
      },
    };
    if (queue) {
      const consumer = randomUUID();
      await this.createGroup(redis, topic, queue, "$");
      subscription.done = this.readGroup(subscription, dispatcher, queue, consumer);
    } else {
      const last = (await redis.xrevrange(this.key(topic), "+", "-", "COUNT", 1))[0]?.[0] ?? "0-0";
      subscription.done = this.readAll(subscription, dispatcher, last);
    }
    this.subscriptions.add(subscription);
    return subscription;
  }

  private key(topic: string): string {
    return this.prefix + topic;
  }

  private async open(): Promise<RedisClient> {
    const { Redis } = await loadDriver<RedisDriver>("ioredis", "redis broker");
    const url = /^rediss?:\/\//.test(this.address) ? this.address : `redis://${this.address}`;
    const redis = new Redis(url, { lazyConnect: true, enableAutoPipelining: true, retryStrategy: (n) => Math.min(n * 100, 2_000), ...this.options.connection });
    redis.on("error", (err: Error) => this.log.debug("redis broker: connection error", { err: err.message }));
    await redis.connect();
    return redis;
  }

  /** Fan-out: read every entry after `last`, for as long as the subscription lasts. */
  private async readAll(s: RedisSubscription, dispatcher: Dispatcher, last: string): Promise<void> {
    while (!s.stopped) {
      try {
        const reply = (await s.connection.xreadBuffer("COUNT", this.options.batch ?? 256, "BLOCK", 5_000, "STREAMS", this.key(s.topic), last)) as
          | [Buffer, Entry[]][]
          | null;
        for (const [id, fields] of reply?.[0]?.[1] ?? []) {
          last = id.toString();
          dispatcher.push({ topic: s.topic, message: toMessage(fields) });
        }
        await dispatcher.idle();
      } catch (err) {
        await this.readFailed(s, err);
      }
    }
  }

  /** Queue group: read new entries for this consumer, claim abandoned ones, ack what was handled. */
  private async readGroup(s: RedisSubscription, dispatcher: Dispatcher, group: string, consumer: string): Promise<void> {
    const key = this.key(s.topic);
    const ackWait = this.options.ackWait ?? 30_000;
    let nextClaim = Date.now() + ackWait / 2;
    while (!s.stopped) {
      try {
        let entries: Entry[];
        if (Date.now() >= nextClaim) {
          nextClaim = Date.now() + ackWait / 2;
          const claimed = (await s.connection.callBuffer("XAUTOCLAIM", key, group, consumer, ackWait, "0-0", "COUNT", this.options.batch ?? 256)) as [
            Buffer,
            Entry[],
          ];
          entries = claimed[1].filter((e) => e[1] !== null);
        } else {
          const reply = (await s.connection.xreadgroupBuffer(
            "GROUP",
            group,
            consumer,
            "COUNT",
            this.options.batch ?? 256,
            "BLOCK",
            Math.min(5_000, ackWait / 2),
            "STREAMS",
            key,
            ">",
          )) as [Buffer, Entry[]][] | null;
          entries = reply?.[0]?.[1] ?? [];
        }
        for (const [id, fields] of entries) this.dispatchEntry(s, dispatcher, group, id.toString(), toMessage(fields));
        await dispatcher.idle();
      } catch (err) {
        if (String((err as Error).message).includes("NOGROUP")) {
          // The stream or group is gone (Redis restarted without persistence): start again from the beginning of the new stream.
          await this.createGroup(s.connection, s.topic, group, "0").catch(() => {});
          continue;
        }
        await this.readFailed(s, err);
      }
    }
  }

  private dispatchEntry(s: RedisSubscription, dispatcher: Dispatcher, group: string, id: string, message: BrokerMessage): void {
    const key = this.key(s.topic);
    dispatcher.push({
      topic: s.topic,
      message,
      ack: async () => {
        await (await this.connection.get()).xack(key, group, id);
      },
      nack: async (requeue) => {
        if (!requeue) {
          this.log.warn("redis broker: dropping a message that cannot be handled", { topic: s.topic, id });
          await (await this.connection.get()).xack(key, group, id);
          return;
        }
        // Still pending in the group, so a crash before then hands it to another member after ackWait.
        setTimeout(() => !s.stopped && this.dispatchEntry(s, dispatcher, group, id, message), this.options.redeliveryDelay ?? 200).unref();
      },
    });
  }

  private async createGroup(redis: RedisClient, topic: string, group: string, from: string): Promise<void> {
    try {
      await redis.xgroup("CREATE", this.key(topic), group, from, "MKSTREAM");
    } catch (err) {
      if (!String((err as Error).message).includes("BUSYGROUP")) throw err;
    }
  }

  private async readFailed(s: RedisSubscription, err: unknown): Promise<void> {
    if (s.stopped) return;
    this.log.warn("redis broker: read failed, retrying", { topic: s.topic, err: (err as Error).message });
    await delay(500);
  }
}

function toMessage(fields: Buffer[]): BrokerMessage {
  let header: Record<string, string> = {};
  let body: Uint8Array = Buffer.alloc(0);
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i].toString();
    if (name === "header") header = parseHeader(fields[i + 1].toString());
    else if (name === "body") body = fields[i + 1];
  }
  return { header, body };
}

/** A header that is not a JSON object (written by some other tool) is left out rather than failing the read loop. */
function parseHeader(text: string): Record<string, string> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null) return {};
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
  } catch {
    return {};
  }
}
