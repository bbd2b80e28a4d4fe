/**
 * RabbitMQ broker over AMQP 0-9-1 (`amqplib`, an optional peer dependency), laid out as Go
 * Micro's rabbitmq plugin: a topic exchange (`micro`), routing key = topic, message headers as
 * AMQP headers and the body as is.
 *
 * - A subscriber without a queue gets a private, exclusive, auto-deleted queue (fan-out).
 * - A queue group shares the durable queue `micro.<topic>.<queue>`: RabbitMQ hands each message to
 *   one consumer, and keeps messages for the group while no member is running. (Go Micro names
 *   it `<queue>` alone, which mixes topics when one queue name is used for several.)
 * - Publishing waits for the broker's confirm; messages to queue groups are persistent.
 * - Acks are real: a nacked message is requeued after `redeliveryDelay`; one nacked without
 *   requeue is dead-lettered to `deadLetterExchange` when set, else dropped.
 * - A lost connection is re-established with backoff, and every subscription re-attached.
 */

import { setTimeout as delay } from "node:timers/promises";
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from "amqplib";
import { loadDriver } from "../driver/driver.js";
import { Lazy } from "../driver/lazy.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import type { Broker, BrokerHandler, BrokerMessage, Header, SubscribeOptions, Subscriber } from "./broker.js";
import { Dispatcher } from "./dispatcher.js";

export interface RabbitMQBrokerOptions {
  /** `amqp://user:pass@host:port/vhost` or `host:port` (default `amqp://guest:guest@127.0.0.1:5672`; `MICRO_BROKER_ADDRESS`). */
  address?: string;
  /** Exchange name (default `micro`, Go Micro's). */
  exchange?: string;
  /** Unacknowledged messages a subscription may hold (default 256). */
  prefetch?: number;
  /** Milliseconds before a nacked message is requeued (default 200), so a failing handler does not spin. */
  redeliveryDelay?: number;
  /** Exchange that queue-group queues dead-letter to (`x-dead-letter-exchange`). */
  deadLetterExchange?: string;
  logger?: Logger;
}

type AmqpDriver = typeof import("amqplib");

interface Connection {
  model: ChannelModel;
  publisher: ConfirmChannel;
}

interface RabbitSubscription extends Subscriber {
  dispatcher: Dispatcher;
  stopped: boolean;
  channel?: Channel;
  consumerTag?: string;
}

export class RabbitMQBroker implements Broker {
  readonly name = "rabbitmq";
  readonly address: string;
  private readonly exchange: string;
  private readonly log: Logger;
  private readonly connection: Lazy<Connection>;
  private readonly subscriptions = new Set<RabbitSubscription>();
  private closing = false;
  private reconnecting = false;

  constructor(private readonly options: RabbitMQBrokerOptions = {}) {
    const address = options.address ?? process.env.MICRO_BROKER_ADDRESS ?? "127.0.0.1:5672";
    this.address = /^amqps?:\/\//.test(address) ? address : `amqp://guest:guest@${address}`;
    this.exchange = options.exchange ?? "micro";
    this.log = options.logger ?? defaultLogger();
    this.connection = new Lazy(() => this.open());
  }

  async connect(): Promise<void> {
    this.closing = false;
    await this.connection.get();
  }

  async disconnect(): Promise<void> {
    this.closing = true;
    for (const s of [...this.subscriptions]) await s.unsubscribe();
    const connection = await this.connection.get().catch(() => undefined);
    this.connection.reset();
    await connection?.model.close().catch(() => {});
  }

  async publish(topic: string, message: BrokerMessage): Promise<void> {
    const { publisher } = await this.connection.get();
    const body = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
    const properties = {
      headers: message.header,
      persistent: true,
      contentType: headerOf(message.header, "content-type"),
      messageId: headerOf(message.header, "micro-id"),
    };
    // The confirm is the flow control: callers that await publish never outrun the broker.
    await new Promise<void>((resolve, reject) => {
      publisher.publish(this.exchange, topic, body, properties, (err: unknown) =>
        err ? reject(err instanceof Error ? err : new Error(`rabbitmq: message to ${topic} was not confirmed`)) : resolve(),
      );
    });
  }

  async subscribe(topic: string, handler: BrokerHandler, options: SubscribeOptions = {}): Promise<Subscriber> {
    const { model } = await this.connection.get();
    const subscription: RabbitSubscription = {
      topic,
      queue: options.queue || undefined,
      stopped: false,
      dispatcher: new Dispatcher(handler, { autoAck: options.autoAck ?? true, concurrency: options.concurrency ?? 1, log: this.log }),
      unsubscribe: async () => {
        if (subscription.stopped) return;
        subscription.stopped = true;
        this.subscriptions.delete(subscription);
        const { channel, consumerTag } = subscription;
        if (channel && consumerTag) await channel.cancel(consumerTag).catch(() => {});
        await subscription.dispatcher.idle();
        await channel?.close().catch(() => {});
      },
    };
    await this.attach(subscription, model);
    this.subscriptions.add(subscription);
    return subscription;
  }

  private async open(): Promise<Connection> {
    const amqp = await loadDriver<AmqpDriver>("amqplib", "rabbitmq broker");
    const model = await amqp.connect(this.address);
    if (this.closing) {
      // disconnect() ran while this connection was being made: nobody will close it but us.
      await model.close().catch(() => {});
      throw new Error("rabbitmq broker: disconnected");
    }
    model.on("error", (err: Error) => this.log.warn("rabbitmq broker: connection error", { err: err.message }));
    model.on("close", () => this.lost());
    const publisher = await model.createConfirmChannel();
    publisher.on("error", (err: Error) => this.log.warn("rabbitmq broker: publish channel error", { err: err.message }));
    await publisher.assertExchange(this.exchange, "topic", { durable: false });
    for (const s of this.subscriptions) await this.attach(s, model);
    return { model, publisher };
  }

  /** Declares the subscription's queue, binds it and starts consuming, on `model`. */
  private async attach(s: RabbitSubscription, model: ChannelModel): Promise<void> {
    const channel = await model.createChannel();
    channel.on("error", (err: Error) => this.log.warn("rabbitmq broker: channel error", { topic: s.topic, err: err.message }));
    await channel.prefetch(this.options.prefetch ?? 256);
    await channel.assertExchange(this.exchange, "topic", { durable: false });
    const dlx = this.options.deadLetterExchange;
    const { queue } = s.queue
      ? await channel.assertQueue(`micro.${s.topic}.${s.queue}`, { durable: true, arguments: dlx ? { "x-dead-letter-exchange": dlx } : undefined })
      : await channel.assertQueue("", { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, this.exchange, s.topic);
    const { consumerTag } = await channel.consume(queue, (msg) => msg && this.deliver(s, channel, msg), { noAck: false });
    s.channel = channel;
    s.consumerTag = consumerTag;
  }

  private deliver(s: RabbitSubscription, channel: Channel, msg: ConsumeMessage): void {
    s.dispatcher.push({
      topic: s.topic,
      message: { header: fromTable(msg.properties.headers), body: msg.content },
      ack: () => channel.ack(msg),
      nack: (requeue) => {
        if (!requeue) return channel.nack(msg, false, false);
        setTimeout(() => {
          try {
            channel.nack(msg, false, true);
          } catch {
            // the channel is gone; RabbitMQ requeues unacked messages of a closed channel anyway
          }
        }, this.options.redeliveryDelay ?? 200).unref();
      },
    });
  }

  /** The connection dropped: reconnect with backoff until it works or we are disconnected. */
  private lost(): void {
    this.connection.reset();
    if (this.closing || this.reconnecting) return;
    this.reconnecting = true;
    this.log.warn("rabbitmq broker: connection lost, reconnecting", { server: this.address.replace(/\/\/[^@]*@/, "//") });
    void (async () => {
      for (let attempt = 1; !this.closing; attempt++) {
        await delay(Math.min(100 * 2 ** attempt, 5_000));
        if (this.closing) break; // disconnected while waiting: don't open a connection nobody closes
        try {
          await this.connection.get();
          this.log.info("rabbitmq broker: reconnected", { attempt });
          break;
        } catch {
          // still down: keep trying
        }
      }
      this.reconnecting = false;
    })();
  }
}

function headerOf(header: Header, lowerKey: string): string | undefined {
  for (const key of Object.keys(header)) if (key.toLowerCase() === lowerKey) return header[key];
  return undefined;
}

/** AMQP header tables carry long strings as Buffers; headers here are strings. */
function fromTable(table: Record<string, unknown> | undefined): Header {
  const header: Header = {};
  for (const [key, value] of Object.entries(table ?? {})) header[key] = Buffer.isBuffer(value) ? value.toString() : String(value);
  return header;
}
