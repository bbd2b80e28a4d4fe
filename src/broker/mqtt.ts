/**
 * MQTT broker (`mqtt`, an optional peer dependency), MQTT v5 at QoS 1 (at least once), messages
 * in Go Micro's JSON envelope `{"Header","Body"}` as Go Micro's mqtt plugin.
 *
 * - A queue group is an MQTT v5 shared subscription `$share/<queue>/<topic>`: the server hands
 *   each message to one member.
 * - Each subscription has a connection of its own, because MQTT merges identical topic filters
 *   of one client into one subscription (two subscribers to one topic in one process would
 *   otherwise get each message once between them).
 * - The client reconnects by itself and restores subscriptions; QoS 1 publishes made while
 *   disconnected are sent on reconnect. MQTT keeps each publisher's order per topic.
 * - MQTT has no negative acknowledgement: nack is a no-op.
 */
import type { IClientOptions, MqttClient } from "mqtt";
import { randomUUID } from "../driver/crypto.js";
import { loadDriver } from "../driver/driver.js";
import { Lazy } from "../driver/lazy.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import type { Broker, BrokerHandler, BrokerMessage, SubscribeOptions, Subscriber } from "./broker.js";
import { Dispatcher } from "./dispatcher.js";
import { encodeEnvelope, unwrapMessage } from "./envelope.js";

export interface MqttBrokerOptions {
  /** `mqtt://host:port` or `host:port` (default `127.0.0.1:1883`; `MICRO_BROKER_ADDRESS`). */
  address?: string;
  /** Extra options for the driver (credentials, TLS, …). */
  connection?: IClientOptions;
  logger?: Logger;
}

type MqttDriver = typeof import("mqtt");

export class MqttBroker implements Broker {
  readonly name = "mqtt";
  readonly address: string;
  private readonly log: Logger;
  private readonly publisher: Lazy<MqttClient>;
  private readonly subscriptions = new Set<Subscriber>();

  constructor(private readonly options: MqttBrokerOptions = {}) {
    const address = options.address ?? process.env.MICRO_BROKER_ADDRESS ?? "127.0.0.1:1883";
    this.address = /^(mqtts?|wss?|tcp):\/\//.test(address) ? address : `mqtt://${address}`;
    this.log = options.logger ?? defaultLogger();
    this.publisher = new Lazy(() => this.client("pub"));
  }

  async connect(): Promise<void> {
    await this.publisher.get();
  }

  async disconnect(): Promise<void> {
    for (const s of [...this.subscriptions]) await s.unsubscribe();
    const client = await this.publisher.get().catch(() => undefined);
    this.publisher.reset();
    await client?.endAsync().catch(() => {});
  }

  async publish(topic: string, message: BrokerMessage): Promise<void> {
    const client = await this.publisher.get();
    await client.publishAsync(topic, encodeEnvelope(message), { qos: 1 });
  }

  async subscribe(topic: string, handler: BrokerHandler, options: SubscribeOptions = {}): Promise<Subscriber> {
    const queue = options.queue || undefined;
    const client = await this.client("sub");
    const dispatcher = new Dispatcher(handler, { autoAck: options.autoAck ?? true, concurrency: options.concurrency ?? 1, log: this.log });
    client.on("message", (_topic, payload) => {
      let message: BrokerMessage;
      try {
        message = unwrapMessage(payload);
      } catch (err) {
        return this.log.warn("mqtt broker: dropped a malformed message", { topic, err: (err as Error).message });
      }
      dispatcher.push({ topic, message });
    });
    const filter = queue ? `$share/${queue}/${topic}` : topic;
    const granted = await client.subscribeAsync(filter, { qos: 1 });
    if (granted.some((g) => g.qos > 2)) {
      await client.endAsync(true);
      throw new Error(
        `mqtt broker: the server refused the subscription ${filter}${queue ? " (shared subscriptions need MQTT v5 or a server that supports $share)" : ""}`,
      );
    }
    const subscriber: Subscriber = {
      topic,
      queue,
      unsubscribe: async () => {
        if (!this.subscriptions.delete(subscriber)) return;
        await client.unsubscribeAsync(filter).catch(() => {});
        await dispatcher.idle();
        await client.endAsync().catch(() => {});
      },
    };
    this.subscriptions.add(subscriber);
    return subscriber;
  }

  private async client(role: "pub" | "sub"): Promise<MqttClient> {
    const mqtt = await loadDriver<MqttDriver>("mqtt", "mqtt broker");
    const client = await mqtt.connectAsync(this.address, {
      protocolVersion: 5,
      clientId: `micro-${role}-${randomUUID()}`,
      clean: true,
      reconnectPeriod: 500,
      connectTimeout: 10_000,
      ...this.options.connection,
    });
    client.on("error", (err: Error) => this.log.warn("mqtt broker: connection error", { err: err.message }));
    client.on("offline", () => this.log.warn("mqtt broker: disconnected, reconnecting", { server: this.address }));
    return client;
  }
}
