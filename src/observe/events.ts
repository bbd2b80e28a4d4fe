/**
 * A durable event stream seen through metrics and tracing, as ObservedBroker does for pub/sub:
 * a publish gets a PRODUCER span whose context goes into the event's metadata, a consumed event a
 * CONSUMER span whose parent is the publisher's, and both are counted by result (a handler that
 * throws or nacks is a failure). `service.observeEvents(stream)` returns one for the service.
 */
import type { ConsumeOptions, Consumer, Event, EventHandler, EventPublishOptions, Stream, TopicInfo } from "../events/events.js";
import type { Metrics } from "./metrics.js";
import type { Tracing } from "./tracing.js";

export class ObservedStream implements Stream {
  /** The inner stream's, when it has one. */
  readonly topics?: () => Promise<TopicInfo[]>;

  constructor(
    readonly inner: Stream,
    private readonly observers: { metrics?: Metrics; tracing?: Tracing },
  ) {
    const { topics } = inner;
    if (topics) this.topics = () => topics.call(inner);
  }

  get name(): string {
    return this.inner.name;
  }

  publish(topic: string, payload: unknown, options: EventPublishOptions = {}): Promise<void> {
    const { metrics, tracing } = this.observers;
    const send = (metadata: Record<string, string>): Promise<void> => this.inner.publish(topic, payload, { ...options, metadata });
    const published = tracing ? tracing.publish(topic, this.inner.name, options.metadata ?? {}, send) : send(options.metadata ?? {});
    if (!metrics) return published;
    return published.then(
      () => metrics.eventPublished(topic, true),
      (err: unknown) => {
        metrics.eventPublished(topic, false);
        throw err;
      },
    );
  }

  consume<T = unknown>(topic: string, handler: EventHandler<T>, options?: ConsumeOptions): Promise<Consumer> {
    return this.inner.consume<T>(topic, (event) => this.deliver(topic, event, handler), options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private deliver<T>(topic: string, event: Event<T>, handler: EventHandler<T>): Promise<void> {
    const { metrics, tracing } = this.observers;
    let nacked = false;
    // The event's own methods and fields, with nack noted (a prototype-backed object keeps json()).
    const observed = Object.create(event, {
      nack: {
        value: (delay?: number) => {
          nacked = true;
          return event.nack(delay);
        },
      },
    }) as Event<T>;
    const handle = async (): Promise<void> => handler(observed);
    const delivered = tracing ? tracing.consume(topic, this.inner.name, event.metadata, handle, () => nacked) : handle();
    if (!metrics) return delivered;
    return delivered.then(
      () => metrics.eventDelivered(topic, !nacked),
      (err: unknown) => {
        metrics.eventDelivered(topic, false);
        throw err;
      },
    );
  }
}
