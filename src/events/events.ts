/**
 * Durable events: streams of events kept by the server, consumed by groups that acknowledge what
 * they handled, as Go Micro's `events.Stream`. Unlike the broker (fire and forget), an event
 * published with no consumer running is kept, and a consumer group resumes where it left off.
 *
 * - `publish(topic, payload)` stores an event; the payload is JSON-encoded unless it is bytes.
 * - `consume(topic, handler, { group })`: consumers sharing a group share its events (each event
 *   to one of them); each group, and each consumer without a group, gets every event.
 * - An event not acked within `ackWait` (or nacked) is delivered again, up to `retryLimit` times.
 * - `offset`: where a new group starts, a sequence number or a time. A named group otherwise
 *   starts at the first event kept (it is durable, so it should see the backlog); a consumer
 *   without a group starts with new events.
 */
import { ContentType, displayableBody } from "../codec/index.js";

export interface Event<T = unknown> {
  readonly id: string;
  readonly topic: string;
  readonly timestamp: Date;
  readonly metadata: Record<string, string>;
  /** The payload as published: JSON for values, as is for bytes. */
  readonly payload: Uint8Array;
  /** The stream's sequence number of this event (ordering, offsets). */
  readonly sequence: number;
  /** 1 for the first delivery, 2 for the first redelivery, … */
  readonly attempt: number;
  /** The payload decoded as JSON. */
  json(): T;
  ack(): Promise<void>;
  /** Delivers the event again (after `delay` ms, default 0), counting towards the retry limit. */
  nack(delay?: number): Promise<void>;
}

export interface EventPublishOptions {
  metadata?: Record<string, string>;
  /** Default: now. */
  timestamp?: Date;
  /** Default: a random UUID. With JetStream, a repeated id within the dedup window is stored once. */
  id?: string;
}

export interface ConsumeOptions {
  /** Consumers of one group share its events; the group's position is kept by the server. */
  group?: string;
  /** Where a new group starts: a sequence number (1 = first event) or a time. */
  offset?: number | Date;
  /** Ack when the handler resolves, nack when it throws (default true). */
  autoAck?: boolean;
  /** Milliseconds before an unacknowledged event is delivered again (default 30 s). */
  ackWait?: number;
  /** Redeliveries after the first delivery before the event is given up (default: unlimited). */
  retryLimit?: number;
  /** Handlers running at once for this consumer (default 1: in order). */
  concurrency?: number;
}

export type EventHandler<T> = (event: Event<T>) => Promise<void> | void;

export interface Consumer {
  readonly topic: string;
  readonly group: string | undefined;
  /** Stops taking events; handlers running finish. Unacked events go to the group's other consumers. */
  stop(): Promise<void>;
}

/** What a stream keeps of one topic (`micro events`, the dashboard's Events page). */
export interface TopicInfo {
  topic: string;
  /** Events kept now. */
  events: number;
  /** The sequence number of the newest event (0 when none was ever published). */
  lastSequence: number;
  /** When the newest event was stored. */
  lastTimestamp?: Date;
}

export interface Stream {
  /** `memory` or `nats`. */
  readonly name: string;
  publish(topic: string, payload: unknown, options?: EventPublishOptions): Promise<void>;
  consume<T = unknown>(topic: string, handler: EventHandler<T>, options?: ConsumeOptions): Promise<Consumer>;
  /** The topics the stream keeps events of, by name (optional: a stream that cannot list them leaves it out). */
  topics?(): Promise<TopicInfo[]>;
  /** Stops every consumer and closes connections. */
  close(): Promise<void>;
}

/** JSON unless the payload is already bytes (Go Micro's natsjs does the same). */
export function encodePayload(payload: unknown): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  return Buffer.from(JSON.stringify(payload ?? null));
}

export function decodeJson<T>(payload: Uint8Array): T {
  return JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("utf8")) as T;
}

/** An event as a person reads it (`micro events consume`, the dashboard): its payload decoded where JSON can carry it. */
export function eventView(event: Event): Record<string, unknown> {
  return {
    topic: event.topic,
    id: event.id,
    sequence: event.sequence,
    timestamp: event.timestamp.toISOString(),
    metadata: event.metadata,
    payload: displayableBody(event.payload, ContentType.json),
  };
}
