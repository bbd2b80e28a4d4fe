/**
 * NATS core pub/sub (`@nats-io/transport-node`, an optional peer dependency). Subject = topic,
 * data = Go Micro's JSON envelope `{"Header","Body"}` (as Go Micro's NATS broker), a queue is a
 * NATS queue group. NATS keeps each publisher's order; it has no acknowledgements, so nack is a
 * no-op. The connection reconnects forever and NATS restores the subscriptions; messages
 * published while disconnected are buffered by the client and sent on reconnect.
 */
import type { ConnectionOptions, Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import type { Broker, BrokerHandler, BrokerMessage, SubscribeOptions, Subscriber } from "./broker.js";
import { Lazy, loadDriver } from "../driver/driver.js";
import { Dispatcher, encodeEnvelope, unwrapMessage } from "./util.js";

export interface NatsBrokerOptions {
  /** `host:port` or `nats://host:port`, comma-separated for a cluster (default `127.0.0.1:4222`; `MICRO_BROKER_ADDRESS`). */
  address?: string;
  /** Extra options for the driver's connect() (credentials, TLS, …). */
  connection?: Partial<ConnectionOptions>;
  logger?: Logger;
}

type NatsDriver = typeof import("@nats-io/transport-node");

/** What publish returns once the driver has the message; shared, as a settled promise never changes. */
const PUBLISHED: Promise<void> = Promise.resolve();

export class NatsBroker implements Broker {
  readonly name = "nats";
  readonly address: string;
  private readonly log: Logger;
  private readonly connection: Lazy<NatsConnection>;
  private readonly subscriptions = new Set<Subscriber>();
  /** The open connection, for the publish fast path. */
  private current: NatsConnection | undefined;

  constructor(private readonly options: NatsBrokerOptions = {}) {
    this.address = options.address ?? process.env.MICRO_BROKER_ADDRESS ?? "127.0.0.1:4222";
    this.log = options.logger ?? defaultLogger();
    this.connection = new Lazy(() => this.open());
  }

  /** The driver's connection, for what this interface does not cover (requests, JetStream). */
  async nats(): Promise<NatsConnection> {
    return this.connection.get();
  }

  async connect(): Promise<void> {
    await this.connection.get();
  }

  async disconnect(): Promise<void> {
    const opening = this.connection;
    this.subscriptions.clear();
    const nc = await opening.get().catch(() => undefined);
    opening.reset();
    this.current = undefined;
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
  }

  publish(topic: string, message: BrokerMessage): Promise<void> {
    // Connected (the usual case): publish now and return a settled promise, not an async
    // function's new one — at 100k+ messages/s the promise per call shows up in the profile.
    const nc = this.current;
    if (nc === undefined) return this.connection.get().then((opened) => opened.publish(topic, encodeEnvelope(message)));
    try {
      nc.publish(topic, encodeEnvelope(message));
      return PUBLISHED;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async subscribe(topic: string, handler: BrokerHandler, options: SubscribeOptions = {}): Promise<Subscriber> {
    const nc = await this.connection.get();
    const dispatcher = new Dispatcher(handler, { autoAck: options.autoAck ?? true, concurrency: options.concurrency ?? 1, log: this.log });
    const sub: Subscription = nc.subscribe(topic, {
      queue: options.queue || undefined,
      callback: (err: Error | null, msg: Msg) => {
        if (err) return this.log.warn("nats broker: subscription error", { topic, err: err.message });
        dispatcher.push({ topic, message: unwrapMessage(msg.data) });
      },
    });
    // The server has the subscription once a round trip completes: then it is live.
    await nc.flush();
    const subscriber: Subscriber = {
      topic,
      queue: options.queue || undefined,
      unsubscribe: async () => {
        this.subscriptions.delete(subscriber);
        if (!sub.isClosed()) sub.unsubscribe();
      },
    };
    this.subscriptions.add(subscriber);
    return subscriber;
  }

  private async open(): Promise<NatsConnection> {
    const { connect } = await loadDriver<NatsDriver>("@nats-io/transport-node", "nats broker");
    const servers = this.address.split(",").map((s) => s.trim()).filter(Boolean);
    const nc = await connect({ servers, name: "ts-micro", maxReconnectAttempts: -1, reconnectTimeWait: 500, ...this.options.connection });
    void this.watch(nc);
    this.current = nc;
    return nc;
  }

  /** Logs connection changes, so an outage shows up in the service's log. */
  private async watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") this.log.warn("nats broker: disconnected, reconnecting", { server: this.address });
      else if (status.type === "reconnect") this.log.info("nats broker: reconnected", { server: this.address });
    }
  }
}
