/**
 * Pub/sub. A Broker moves messages from publishers to subscribers of a topic, as Go Micro's
 * `broker.Broker`: a message is headers plus an opaque body, and the layer above (the service's
 * subscribers, `client.publish`) decides what the body means from its `Content-Type`.
 *
 * Semantics every implementation keeps:
 * - Without a queue, every subscriber of a topic gets every message (fan-out).
 * - Subscribers that share a queue name form a group: each message goes to exactly one of them.
 *   Different groups on one topic each get every message.
 * - A subscription is live when `subscribe()` resolves for publishers using the same broker
 *   instance; a broker that learns about subscribers through a registry (http) may need a moment
 *   before publishers in other processes see it.
 * - Handlers of one subscription run in arrival order, `concurrency` at a time (default 1).
 * - `autoAck` (default true): the message is acknowledged when the handler resolves; when it
 *   throws, it is negatively acknowledged, so brokers that can redeliver do.
 */

import type { Header } from "../metadata/headers.js";

export type { Header };

/** Go Micro's `broker.Message`. */
export interface BrokerMessage {
  header: Header;
  body: Uint8Array;
}

export interface NackOptions {
  /**
   * Deliver the message again (default true). False drops it, or dead-letters it where the broker
   * has a dead-letter place: for messages that can never be handled, such as an undecodable body.
   */
  requeue?: boolean;
  /** Why the message could not be handled (the handler's error), for logs and dead-letter headers. */
  reason?: string;
}

/** One delivery of a message to a subscriber. */
export interface BrokerEvent {
  readonly topic: string;
  readonly message: BrokerMessage;
  /**
   * Which delivery of the message this is, from 1, where the broker counts them (the http
   * broker's redeliveries do); undefined elsewhere.
   */
  readonly attempt?: number;
  /**
   * Confirms the message was handled; brokers with acknowledgements then forget it. A no-op on
   * brokers without them (memory fan-out, NATS core, MQTT past QoS 1).
   */
  ack(): Promise<void>;
  /** Gives the message back: redelivered later where the broker supports it, else dropped. */
  nack(options?: NackOptions): Promise<void>;
}

export type BrokerHandler = (event: BrokerEvent) => Promise<void> | void;

export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group (default: none, fan-out). */
  queue?: string;
  /** Ack when the handler resolves, nack when it throws (default true). */
  autoAck?: boolean;
  /** Handlers of this subscription running at once (default 1: in arrival order). */
  concurrency?: number;
}

/** Options of Broker.publish (the client's `publish` takes `PublishOptions`, which add encoding). */
export interface BrokerPublishOptions {
  /** Gives up on the publish: a broker still delivering or retrying stops and rejects. */
  signal?: AbortSignal;
}

export interface Subscriber {
  readonly topic: string;
  readonly queue: string | undefined;
  /** Stops delivery; messages already being handled finish. */
  unsubscribe(): Promise<void>;
}

export interface Broker {
  /** The implementation's name: `memory`, `http`, `nats`, `redis`, `rabbitmq`, `mqtt`. */
  readonly name: string;
  /** Where it is connected (server address), or where it listens (http). */
  readonly address: string;
  /** Connects (idempotent). publish() and subscribe() connect on first use as well. */
  connect(): Promise<void>;
  /** Ends every subscription and closes connections (idempotent). */
  disconnect(): Promise<void>;
  /**
   * Resolves once the broker has taken the message; the http broker resolves once every current
   * subscriber handled it, and rejects naming those it could not deliver to.
   */
  publish(topic: string, message: BrokerMessage, options?: BrokerPublishOptions): Promise<void>;
  subscribe(topic: string, handler: BrokerHandler, options?: SubscribeOptions): Promise<Subscriber>;
}
