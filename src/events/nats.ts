/**
 * Durable events on NATS JetStream (`@nats-io/transport-node` and `@nats-io/jetstream`, optional
 * peer dependencies), after Go Micro's natsjs:
 *
 * - each topic is a JetStream stream on the subject `<topic>`, named like the topic (Go Micro
 *   uses the topic as is; names JetStream cannot take, such as `user.created`, become
 *   `user_created_<hash>`), created on first use;
 * - an event is Go Micro's envelope `{"ID","Topic","Timestamp","Metadata","Payload"}` (Payload
 *   base64), published with `Nats-Msg-Id` = ID, so a repeated publish is stored once;
 * - a group is a durable pull consumer named after the group: JetStream keeps its position and
 *   spreads its events over every process consuming it, and redelivers what was not acked within
 *   `ackWait` — also after the consuming process died. Without a group the consumer is
 *   ephemeral and starts with new events.
 */
import type { ConsumerConfig, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { createHash, randomUUID } from "../driver/crypto.js";
import { loadDriver } from "../driver/driver.js";
import { Lazy } from "../driver/lazy.js";
import { type NatsConnectionOptions, type NatsHandle, openNatsConnection, parseServers } from "../driver/nats.js";
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

export type { NatsConnectionOptions, NatsTlsOptions } from "../driver/nats.js";

/**
 * Where NATS is (`servers`, default `MICRO_EVENTS_ADDRESS`, else `127.0.0.1:4222`; or a shared
 * `connection`), TLS, logger (see NatsConnectionOptions), and the stream's own settings.
 */
export interface NatsStreamOptions extends NatsConnectionOptions {
  /** @deprecated the old name of `servers`. */
  address?: string;
  /** How long streams keep events, in ms (default: forever). */
  maxAge?: number;
}

type JetStreamDriver = typeof import("@nats-io/jetstream");

interface Connection {
  handle: NatsHandle;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  driver: JetStreamDriver;
}

/** Go Micro's events.Event as JSON (no json tags in Go, so the keys are the field names). */
interface Envelope {
  ID: string;
  Topic: string;
  Timestamp: string;
  Metadata: Record<string, string> | null;
  Payload: string | null;
}

export class NatsStream implements Stream {
  readonly name = "nats";
  readonly servers: string[];
  private readonly log: Logger;
  private readonly connection: Lazy<Connection>;
  private readonly streams = new Map<string, Promise<string>>();
  private readonly consumers = new Set<Consumer>();

  constructor(private readonly options: NatsStreamOptions = {}) {
    this.servers = parseServers(options.servers ?? options.address ?? process.env.MICRO_EVENTS_ADDRESS);
    this.log = options.logger ?? defaultLogger();
    this.connection = new Lazy(() => this.open());
  }

  async publish(topic: string, payload: unknown, options: EventPublishOptions = {}): Promise<void> {
    const { js } = await this.connection.get();
    await this.ensureStream(topic);
    const id = options.id ?? randomUUID();
    const envelope: Envelope = {
      ID: id,
      Topic: topic,
      Timestamp: (options.timestamp ?? new Date()).toISOString(),
      Metadata: options.metadata ?? {},
      Payload: Buffer.from(encodePayload(payload)).toString("base64"),
    };
    await js.publish(topic, JSON.stringify(envelope), { msgID: id });
  }

  async consume<T = unknown>(topic: string, handler: EventHandler<T>, options: ConsumeOptions = {}): Promise<Consumer> {
    const { js } = await this.connection.get();
    const stream = await this.ensureStream(topic);
    const name = await this.ensureConsumer(stream, topic, options);
    const messages = await (await js.consumers.get(stream, name)).consume({ max_messages: Math.max(16, (options.concurrency ?? 1) * 2) });
    const loop = this.run(messages, topic, options, handler as EventHandler<unknown>);
    const consumer: Consumer = {
      topic,
      group: options.group,
      stop: async () => {
        if (!this.consumers.delete(consumer)) return;
        await messages.close().catch(() => {});
        await loop;
      },
    };
    this.consumers.add(consumer);
    return consumer;
  }

  /**
   * The topics kept on the JetStream server, whoever published them: every stream that is one
   * topic's, as this plugin and Go Micro's natsjs create them (one subject, the stream named
   * after it); other streams (KV buckets, object stores, streams of other programs) are not events.
   */
  async topics(): Promise<TopicInfo[]> {
    const { jsm } = await this.connection.get();
    const out: TopicInfo[] = [];
    for await (const info of jsm.streams.list()) {
      const subjects = info.config.subjects ?? [];
      if (subjects.length !== 1 || streamName(subjects[0]) !== info.config.name) continue;
      const { messages, last_seq, last_ts } = info.state;
      out.push({ topic: subjects[0], events: messages, lastSequence: last_seq, lastTimestamp: last_seq > 0 ? new Date(last_ts) : undefined });
    }
    return out.sort((a, b) => a.topic.localeCompare(b.topic));
  }

  async close(): Promise<void> {
    for (const consumer of [...this.consumers]) await consumer.stop();
    const connection = await this.connection.peek()?.catch(() => undefined);
    this.connection.reset();
    this.streams.clear();
    await connection?.handle.release();
  }

  private async open(): Promise<Connection> {
    const driver = await loadDriver<JetStreamDriver>("@nats-io/jetstream", "nats events");
    const handle = await openNatsConnection({ ...this.options, servers: this.servers, logger: this.log }, { plugin: "nats events", name: "ts-micro events" });
    try {
      return { handle, nc: handle.nc, js: driver.jetstream(handle.nc), jsm: await driver.jetstreamManager(handle.nc), driver };
    } catch (err) {
      await handle.release();
      throw err;
    }
  }

  /** Creates the topic's stream unless it exists; resolves with its name. */
  private ensureStream(topic: string): Promise<string> {
    let ensured = this.streams.get(topic);
    if (!ensured) {
      ensured = (async () => {
        const { jsm } = await this.connection.get();
        const name = streamName(topic);
        try {
          await jsm.streams.info(name);
        } catch {
          await jsm.streams.add({ name, subjects: [topic], ...(this.options.maxAge ? { max_age: this.options.maxAge * 1e6 } : {}) });
        }
        return name;
      })();
      ensured.catch(() => this.streams.delete(topic));
      this.streams.set(topic, ensured);
    }
    return ensured;
  }

  /** The durable consumer of `options.group` (created once, then reused), or a new ephemeral one. */
  private async ensureConsumer(stream: string, topic: string, options: ConsumeOptions): Promise<string> {
    const { jsm, driver } = await this.connection.get();
    const config: Partial<ConsumerConfig> = {
      ack_policy: driver.AckPolicy.Explicit,
      ack_wait: (options.ackWait ?? 30_000) * 1e6,
      max_deliver: options.retryLimit === undefined ? -1 : options.retryLimit + 1,
      filter_subject: topic,
      ...startAt(driver, options),
    };
    if (!options.group) return (await jsm.consumers.add(stream, { ...config, inactive_threshold: 60_000 * 1e6 })).name;
    const durable = consumerName(options.group);
    try {
      await jsm.consumers.info(stream, durable);
      // It exists: keep its position; only the timing settings can change.
      await jsm.consumers
        .update(stream, durable, { ack_wait: config.ack_wait, max_deliver: config.max_deliver })
        .catch((err: Error) => this.log.warn("events: could not update consumer settings", { group: options.group, err: err.message }));
    } catch {
      await jsm.consumers.add(stream, { ...config, durable_name: durable });
    }
    return durable;
  }

  private async run(messages: ConsumerMessages, topic: string, options: ConsumeOptions, handler: EventHandler<unknown>): Promise<void> {
    const running = new Set<Promise<void>>();
    const limit = options.concurrency ?? 1;
    for await (const msg of messages) {
      const task = this.handle(msg, topic, options.autoAck ?? true, handler).finally(() => running.delete(task));
      running.add(task);
      if (running.size >= limit) await Promise.race(running);
    }
    await Promise.all(running);
  }

  private async handle(msg: JsMsg, topic: string, autoAck: boolean, handler: EventHandler<unknown>): Promise<void> {
    const event = toEvent(msg, topic);
    try {
      await handler(event);
      if (autoAck) await event.ack();
    } catch (err) {
      this.log.error("event handler failed; the event will be delivered again", {
        topic,
        sequence: msg.seq,
        attempt: event.attempt,
        err: err instanceof Error ? err.message : String(err),
      });
      if (autoAck) await event.nack();
    }
  }
}

/** An Event from a JetStream message; a message that is not an envelope is taken as a bare payload. */
function toEvent(msg: JsMsg, topic: string): Event {
  let envelope: Partial<Envelope> = {};
  try {
    const parsed: unknown = JSON.parse(msg.string());
    if (parsed && typeof parsed === "object" && "ID" in parsed && "Payload" in parsed) envelope = parsed as Envelope;
  } catch {
    // published by something else: the whole message is the payload
  }
  const payload = envelope.ID !== undefined ? Buffer.from(envelope.Payload ?? "", "base64") : msg.data;
  let settled = false;
  const once = (fn: () => void): Promise<void> => {
    if (!settled) {
      settled = true;
      fn();
    }
    return Promise.resolve();
  };
  return {
    id: envelope.ID ?? String(msg.seq),
    topic: envelope.Topic ?? topic,
    timestamp: envelope.Timestamp ? new Date(envelope.Timestamp) : new Date(msg.info.timestampNanos / 1e6),
    metadata: envelope.Metadata ?? {},
    payload,
    sequence: msg.seq,
    attempt: msg.info.deliveryCount,
    json: <T>() => decodeJson<T>(payload),
    ack: () => once(() => msg.ack()),
    nack: (delay?: number) => once(() => msg.nak(delay)),
  };
}

function startAt(driver: JetStreamDriver, options: ConsumeOptions): Partial<ConsumerConfig> {
  const { offset } = options;
  if (typeof offset === "number") return { deliver_policy: driver.DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, offset) };
  if (offset instanceof Date) return { deliver_policy: driver.DeliverPolicy.StartTime, opt_start_time: offset.toISOString() };
  return { deliver_policy: options.group ? driver.DeliverPolicy.All : driver.DeliverPolicy.New };
}

const VALID_NAME = /^[A-Za-z0-9_-]+$/;

/** The topic itself when JetStream accepts it as a name (as Go Micro), else a safe name with a hash against collisions. */
export function streamName(topic: string): string {
  if (VALID_NAME.test(topic)) return topic;
  return `${topic.replace(/[^A-Za-z0-9_-]/g, "_")}_${createHash("sha256").update(topic).digest("hex").slice(0, 8)}`;
}

function consumerName(group: string): string {
  return streamName(group);
}
