/**
 * Typed subscriptions for a service: `service.subscribe(topic, handler, { queue })`. A message's
 * body is decoded by its Content-Type (as Go Micro's server does) and handed to the handler with
 * a context carrying the message's metadata; subscriber wrappers run around the handler.
 *
 * Failure policy (the message is never lost silently, the subscriber never dies):
 * - the handler throws: logged (with its stack the first time; a redelivery that fails again is
 *   logged in one line), and the message is nacked, so brokers that can redeliver do;
 * - the body does not decode, or its Content-Type is unknown: logged and nacked without requeue
 *   (dead-lettered where the broker can), because no retry can fix it.
 */
import type { Broker, BrokerEvent, Header, Subscriber } from "../broker/broker.js";
import type { Codecs } from "../codec/index.js";
import { DEFAULT_CONTENT_TYPE } from "../codec/index.js";
import { InFlight } from "../lifecycle/in-flight.js";
import type { Logger } from "../logger/logger.js";
import type { Account } from "../metadata/account.js";
import type { Caller, Context } from "../metadata/context.js";
import { headerValue, MicroHeader } from "../metadata/headers.js";
import { Metadata } from "../metadata/metadata.js";
import { compose } from "../middleware/compose.js";
import type { Endpoint } from "../registry/registry.js";

/** What a subscriber handler gets besides the payload. Usable as `ctx` in client calls, to pass the metadata on. */
export interface MessageContext extends Context {
  readonly topic: string;
  /** The queue group this subscription belongs to, if any. */
  readonly queue: string | undefined;
  /** The message id (`Micro-Id`), when the publisher set one. */
  readonly id: string | undefined;
  readonly contentType: string;
  /** With `autoAck: false`: confirm the message. */
  ack(): Promise<void>;
  /** With `autoAck: false`: give the message back for redelivery (where the broker can). */
  nack(): Promise<void>;
}

/** A received message as subscriber wrappers see it. */
export interface Publication {
  readonly topic: string;
  readonly contentType: string;
  readonly header: Header;
  readonly body: Uint8Array;
  /** The decoded body. */
  readonly payload: unknown;
}

/** The innermost function a subscriber wrapper wraps. */
export type SubscriberFunc = (message: Publication, ctx: MessageContext) => Promise<void>;

/** Subscriber middleware, as Go Micro's SubscriberWrapper. The first given is the outermost. */
export type SubscriberWrapper = (next: SubscriberFunc) => SubscriberFunc;

export type SubscriptionHandler<T> = (payload: T, ctx: MessageContext) => Promise<void> | void;

export interface SubscriptionOptions {
  /** Queue group: each message goes to one subscriber of the group (default: every subscriber gets it). */
  queue?: string;
  /** Ack when the handler resolves, nack when it throws (default true). */
  autoAck?: boolean;
  /** Handlers of this subscription running at once (default 1: in arrival order). */
  concurrency?: number;
  /** Wrappers for this subscription only, inside the service-wide ones. */
  wrappers?: SubscriberWrapper[];
  /** The endpoint name published in the registry (default `Func`, as Go Micro names function subscribers). */
  name?: string;
}

interface Entry {
  topic: string;
  options: SubscriptionOptions;
  invoke: SubscriberFunc;
  subscriber?: Subscriber;
}

export interface SubscriptionsOptions {
  /** The subscribing service's name. */
  service: string;
  broker: Broker;
  codecs: Codecs;
  wrappers?: SubscriberWrapper[];
  logger: Logger;
}

/** A service's subscriptions: declared before start, made at start, removed at stop. */
export class Subscriptions {
  private readonly entries: Entry[] = [];
  private readonly inflight = new InFlight();

  constructor(private readonly options: SubscriptionsOptions) {}

  add<T>(topic: string, handler: SubscriptionHandler<T>, options: SubscriptionOptions = {}): void {
    if (!topic) throw new TypeError("subscribe(): a topic is required");
    const handle: SubscriberFunc = async (message, ctx) => handler(message.payload as T, ctx);
    const invoke = compose(handle, [...(this.options.wrappers ?? []), ...(options.wrappers ?? [])]);
    this.entries.push({ topic, options, invoke });
  }

  get size(): number {
    return this.entries.length;
  }

  /** Go Micro publishes subscribers as endpoints with metadata `{topic, subscriber: "true"}`. */
  endpoints(): Endpoint[] {
    return this.entries.map((e) => ({
      name: e.options.name ?? "Func",
      request: null,
      response: null,
      metadata: { topic: e.topic, subscriber: "true", ...(e.options.queue ? { queue: e.options.queue } : {}) },
    }));
  }

  async start(): Promise<void> {
    for (const entry of this.entries) {
      const { queue, concurrency } = entry.options;
      // The broker never acks for us: deliver() settles each message itself, by the policy above.
      entry.subscriber = await this.options.broker.subscribe(entry.topic, (event) => this.deliver(entry, event), { queue, concurrency, autoAck: false });
    }
  }

  /** Unsubscribes; messages being handled finish (see drain). */
  async stop(): Promise<void> {
    for (const entry of this.entries) {
      await entry.subscriber?.unsubscribe().catch((err: Error) => this.options.logger.warn("unsubscribe failed", { topic: entry.topic, err: err.message }));
      entry.subscriber = undefined;
    }
  }

  /** Resolves true once no handler is running, or false after `timeout` ms. */
  drain(timeout: number): Promise<boolean> {
    return this.inflight.drained(timeout);
  }

  private async deliver(entry: Entry, event: BrokerEvent): Promise<void> {
    this.inflight.begin();
    try {
      await this.handle(entry, event);
    } finally {
      this.inflight.end();
    }
  }

  private async handle(entry: Entry, event: BrokerEvent): Promise<void> {
    const { header, body } = event.message;
    const log = this.options.logger;
    const contentType = headerValue(header, MicroHeader.ContentType) ?? DEFAULT_CONTENT_TYPE;
    const codec = this.options.codecs.find(contentType);
    let payload: unknown;
    try {
      if (!codec) throw new Error(`unsupported Content-Type ${contentType} (supported: ${this.options.codecs.contentTypes.join(", ")})`);
      payload = codec.decode(body);
    } catch (err) {
      log.error("dropped a message whose body does not decode", { topic: entry.topic, contentType, bytes: body.length, err: (err as Error).message });
      return event.nack({ requeue: false });
    }
    const ctx = new EventContext(this.options.service, entry.topic, entry.options.queue, header, contentType, event);
    try {
      await entry.invoke({ topic: entry.topic, contentType, header, body, payload }, ctx);
      if (entry.options.autoAck !== false) await event.ack();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      const attempt = event.attempt;
      if (attempt === undefined || attempt <= 1) {
        log.error("subscriber failed; the message is not acknowledged", { topic: entry.topic, id: ctx.id, err: err instanceof Error ? err.stack : reason });
      } else {
        log.warn("subscriber failed again", { topic: entry.topic, id: ctx.id, attempt, err: reason });
      }
      if (entry.options.autoAck !== false) await event.nack({ reason });
    }
  }
}

class EventContext implements MessageContext {
  readonly deadline = undefined;
  /** Set by the auth check (declared so that setting it keeps the object's shape). */
  account: Account | undefined = undefined;
  readonly signal = new AbortController().signal;
  private metadata_: Metadata | undefined;
  private response_: Metadata | undefined;

  constructor(
    readonly service: string,
    readonly topic: string,
    readonly queue: string | undefined,
    private readonly header: Header,
    readonly contentType: string,
    private readonly event: BrokerEvent,
  ) {}

  get endpoint(): string {
    return this.topic;
  }
  get id(): string | undefined {
    return headerValue(this.header, MicroHeader.Id);
  }
  get metadata(): Metadata {
    this.metadata_ ??= new Metadata(this.header);
    return this.metadata_;
  }
  /** A message has no answer to carry it: kept only so that handlers shared with calls run. */
  get responseMetadata(): Metadata {
    this.response_ ??= new Metadata();
    return this.response_;
  }
  get caller(): Caller {
    return { service: headerValue(this.header, MicroHeader.FromService), address: "" };
  }
  ack(): Promise<void> {
    return this.event.ack();
  }
  nack(): Promise<void> {
    return this.event.nack();
  }
}
