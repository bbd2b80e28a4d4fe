/**
 * NATS core pub/sub (`@nats-io/transport-node`, an optional peer dependency). Subject = topic,
 * a queue is a NATS queue group. Data is, by `format`, either Go Micro's JSON envelope
 * `{"Header","Body"}` (as Go Micro's NATS broker: the default) or the body itself with the headers
 * as NATS headers (`raw`: what plain NATS clients publish and read). NATS keeps each publisher's order; it has no acknowledgements, so nack is a
 * no-op. The connection reconnects forever and NATS restores the subscriptions; messages
 * published while disconnected are buffered by the client and sent on reconnect.
 */
import type { Msg, MsgHdrs, NatsConnection, Subscription } from "@nats-io/transport-node";
import { DEFAULT_CONTENT_TYPE } from "../codec/index.js";
import { loadDriver } from "../driver/driver.js";
import { Lazy } from "../driver/lazy.js";
import { type NatsConnectionOptions, type NatsHandle, openNatsConnection, parseServers } from "../driver/nats.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import { type Header, MicroHeader } from "../metadata/headers.js";
import type { Broker, BrokerHandler, BrokerMessage, SubscribeOptions, Subscriber } from "./broker.js";
import { Dispatcher } from "./dispatcher.js";
import { encodeEnvelope, unwrapMessage } from "./envelope.js";

export type { NatsConnectionOptions, NatsTlsOptions } from "../driver/nats.js";

/**
 * Where NATS is (`servers`, default `MICRO_BROKER_ADDRESS`, else `127.0.0.1:4222`; or a shared
 * `connection`), TLS, logger (see NatsConnectionOptions), and the broker's own settings.
 */
export interface NatsBrokerOptions extends NatsConnectionOptions {
  /** @deprecated the old name of `servers`. */
  address?: string;
  /**
   * How a message travels (default `go-micro`, or `MICRO_BROKER_FORMAT`):
   * - `go-micro`: Go Micro's JSON envelope with a base64 body, readable by Go Micro services;
   * - `raw`: the body is the NATS payload and headers are NATS headers, so any NATS client can
   *   publish to and read from ts-micro subscribers. `Micro-Topic` is the subject and a JSON
   *   Content-Type is implied, so neither is sent; `Micro-Id` is not carried. About twice the
   *   throughput of the envelope, but Go Micro services cannot read it. Both sides of a topic
   *   must use the same format.
   */
  format?: NatsFormat;
}

export type NatsFormat = "go-micro" | "raw";

/** Headers a raw message does not carry: the subject is the topic, and ids are the envelope's. */
const IMPLIED_BY_RAW = new Set<string>([MicroHeader.Topic, MicroHeader.Id]);

/** What NATS (like HTTP) accepts as a header name: an RFC 7230 token. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

type NatsDriver = typeof import("@nats-io/transport-node");

/** What publish returns once the driver has the message; shared, as a settled promise never changes. */
const PUBLISHED: Promise<void> = Promise.resolve();

export class NatsBroker implements Broker {
  readonly name = "nats";
  /** The servers, comma-separated (the Broker contract's address). */
  readonly address: string;
  readonly servers: string[];
  private readonly log: Logger;
  private readonly connection: Lazy<NatsConnection>;
  private handle: NatsHandle | undefined;
  private readonly subscriptions = new Set<Subscriber>();
  private readonly format: NatsFormat;
  /** The open connection, for the publish fast path. */
  private current: NatsConnection | undefined;
  /** The driver's `headers()`, once loaded (raw messages with headers of their own). */
  private makeHeaders: NatsDriver["headers"] | undefined;

  constructor(private readonly options: NatsBrokerOptions = {}) {
    this.servers = parseServers(options.servers ?? options.address ?? process.env.MICRO_BROKER_ADDRESS);
    this.address = this.servers.join(",");
    this.log = options.logger ?? defaultLogger();
    this.format = options.format ?? formatFromEnv();
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
    await this.connection.peek()?.catch(() => undefined);
    this.connection.reset();
    this.current = undefined;
    const handle = this.handle;
    this.handle = undefined;
    // A connection of ours is drained, which ends its subscriptions after what is in flight; a shared one stays open without ours.
    if (handle && !handle.owned) for (const subscriber of [...this.subscriptions]) await subscriber.unsubscribe();
    this.subscriptions.clear();
    await handle?.release();
  }

  publish(topic: string, message: BrokerMessage): Promise<void> {
    // Connected (the usual case): publish now and return a settled promise, not an async
    // function's new one — at 100k+ messages/s the promise per call shows up in the profile.
    const nc = this.current;
    if (nc === undefined) return this.connection.get().then(() => this.publish(topic, message));
    try {
      if (this.format === "go-micro") nc.publish(topic, encodeEnvelope(message));
      else nc.publish(topic, message.body, this.rawHeaders(message.header));
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
        dispatcher.push({ topic, message: this.format === "go-micro" ? unwrapMessage(msg.data) : fromRaw(msg) });
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
    this.makeHeaders ??= (await loadDriver<NatsDriver>("@nats-io/transport-node", "nats broker")).headers;
    const handle = await openNatsConnection({ ...this.options, servers: this.servers, logger: this.log }, { plugin: "nats broker", name: "ts-micro broker" });
    this.handle = handle;
    this.current = handle.nc;
    return handle.nc;
  }

  /** NATS headers for what a raw message cannot imply; none (the fast path) for a plain JSON message. */
  private rawHeaders(header: Header): { headers: MsgHdrs } | undefined {
    let headers: MsgHdrs | undefined;
    for (const key in header) {
      const value = header[key];
      if (IMPLIED_BY_RAW.has(key) || (key === MicroHeader.ContentType && value === DEFAULT_CONTENT_TYPE)) continue;
      if (!HEADER_NAME.test(key))
        throw new Error(
          `nats broker (format raw): ${JSON.stringify(key)} cannot be a NATS header name (ASCII letters, digits and !#$%&'*+-.^_\`|~); the go-micro format carries any name`,
        );
      headers ??= this.makeHeaders!();
      headers.set(key, value);
    }
    return headers && { headers };
  }
}

/** A raw NATS message as a broker message: the subject is the topic, NATS headers the headers. */
function fromRaw(msg: Msg): BrokerMessage {
  const header: Header = { [MicroHeader.Topic]: msg.subject };
  if (msg.headers) for (const [key, values] of msg.headers) header[key] = values[0];
  return { header, body: msg.data };
}

function formatFromEnv(): NatsFormat {
  const value = process.env.MICRO_BROKER_FORMAT || "go-micro";
  if (value !== "go-micro" && value !== "raw") throw new Error(`MICRO_BROKER_FORMAT=${JSON.stringify(value)}: use go-micro (the default) or raw`);
  return value;
}
