/**
 * A broker seen through metrics and tracing: publishes get a PRODUCER span (its context written
 * into the message's headers) and are counted by result; deliveries get a CONSUMER span, child of
 * the publisher's, and are counted by result (a nacked delivery is a failure). It decorates any
 * Broker, so every implementation carries trace context the same way, in its message headers.
 */
import type { Broker, BrokerEvent, BrokerHandler, BrokerMessage, BrokerPublishOptions, Header, SubscribeOptions, Subscriber } from "../broker/broker.js";
import type { Metrics } from "./metrics.js";
import type { Tracing } from "./tracing.js";

export class ObservedBroker implements Broker {
  constructor(
    /** The broker that moves the messages. */
    readonly inner: Broker,
    private readonly observers: { metrics?: Metrics; tracing?: Tracing },
  ) {}

  get name(): string {
    return this.inner.name;
  }

  get address(): string {
    return this.inner.address;
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }

  disconnect(): Promise<void> {
    return this.inner.disconnect();
  }

  publish(topic: string, message: BrokerMessage, options?: BrokerPublishOptions): Promise<void> {
    const { metrics, tracing } = this.observers;
    const send = (header: Header): Promise<void> => this.inner.publish(topic, { header, body: message.body }, options);
    const published = tracing ? tracing.publish(topic, this.inner.name, message.header, send) : send(message.header);
    if (!metrics) return published;
    return published.then(
      () => metrics.published(topic, true),
      (err: unknown) => {
        metrics.published(topic, false);
        throw err;
      },
    );
  }

  subscribe(topic: string, handler: BrokerHandler, options?: SubscribeOptions): Promise<Subscriber> {
    return this.inner.subscribe(topic, (event) => this.deliver(topic, event, handler), options);
  }

  private deliver(topic: string, event: BrokerEvent, handler: BrokerHandler): Promise<void> {
    const { metrics, tracing } = this.observers;
    let nacked = false;
    const observed: BrokerEvent = {
      topic: event.topic,
      message: event.message,
      ack: () => event.ack(),
      nack: (options) => {
        nacked = true;
        return event.nack(options);
      },
    };
    const handle = async (): Promise<void> => handler(observed);
    const delivered = tracing ? tracing.consume(topic, this.inner.name, event.message.header, handle, () => nacked) : handle();
    if (!metrics) return delivered;
    return delivered.then(
      () => metrics.delivered(topic, !nacked),
      (err: unknown) => {
        metrics.delivered(topic, false);
        throw err;
      },
    );
  }
}
