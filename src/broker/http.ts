/**
 * The default broker: no server to run. Each subscriber process listens on an HTTP port and
 * registers itself in the registry; publishers look subscribers up there and POST each message to
 * them. The format is Go Micro's HTTP broker, so Go Micro and ts-micro services exchange messages:
 *
 * - a subscription registers service `micro.http.broker`, version = its queue or
 *   `ff.http.broadcast`, one node `<topic>-<uuid>` with metadata `{broker: "http", topic, secure}`,
 *   TTL 1 min, refreshed every 30 s;
 * - publish POSTs `/?id=<node id>` with `{"Header":{…,"Micro-Topic":topic},"Body":"<base64>"}` to
 *   every node of the broadcast version and to one random node of each queue version.
 *
 * Delivery is at-most-once, and publish() says how it went (Go Micro's publish never does):
 * it resolves once every subscriber registered for the topic has handled the message, and
 * rejects with an UndeliveredError naming each subscriber it could not deliver to after retrying
 * for `retryFor` (a queue group's retry may go to another member). Nothing is kept once publish()
 * settles: for at-least-once delivery that survives restarts, use events (JetStream).
 *
 * A message its handler fails (throws, or nacks) is handled again by the subscriber, after a
 * backoff (100 ms doubling, jittered), up to `redelivery.attempts` times in all (default 5); then
 * it is published to its dead-letter topic, `<topic>.dlq` by default, with headers saying where it
 * came from and why it failed (see docs/resilience.md). The publisher then gets 200: the message
 * was taken care of. Go Micro publishers get 200 whatever happens, as from a Go Micro subscriber.
 * Each subscription gets its own node id, so two subscriptions in one process never see each
 * other's messages.
 *
 * With a `signer` (a service holding the auth private key) a subscription's node is signed as a
 * service's is; with a `verifier` (MICRO_REGISTRY_VERIFY) messages go only to subscriber nodes
 * whose signature verifies, so a forged registry record cannot draw a service's messages
 * (registry/signature.ts).
 */
import type http from "node:http";
import type https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { ContentType } from "../codec/codec.js";
import { randomInt, randomUUID } from "../driver/crypto.js";
import { builtin } from "../driver/driver.js";
import { Lazy } from "../driver/lazy.js";
import { ErrorId, MicroError } from "../errors/errors.js";
import { InFlight } from "../lifecycle/in-flight.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import { RateLimitedLog } from "../logger/rate-limited.js";
import { headerValue, MicroHeader } from "../metadata/headers.js";
import { CacheRegistry } from "../registry/cache.js";
import type { Node, Registry, ServiceRecord } from "../registry/registry.js";
import { type NodeSigner, type NodeVerifier, SignedNodes, signNodes } from "../registry/signature.js";
import type { Broker, BrokerHandler, BrokerMessage, BrokerPublishOptions, SubscribeOptions, Subscriber } from "./broker.js";
import { Dispatcher } from "./dispatcher.js";
import { decodeEnvelope, encodeEnvelope } from "./envelope.js";

export const HTTP_BROKER_SERVICE = "micro.http.broker";
export const BROADCAST_VERSION = "ff.http.broadcast";
const REGISTER_TTL = 60_000;
const REGISTER_INTERVAL = 30_000;
/** A delivery whose subscriber has not answered in this long is failed (and retried). */
const DELIVERY_TIMEOUT = 30_000;
/** A limit hit is logged at most once per this interval (with how many were not logged). */
const LIMIT_LOG_INTERVAL = 10_000;

export interface HttpBrokerTlsOptions {
  /** Certificates (PEM) to trust for secure subscribers instead of Node's default CAs. */
  ca?: string | Buffer | Array<string | Buffer>;
  /**
   * Deliver to secure subscribers without verifying their certificates (default false). For
   * development only: Go Micro's secure subscribers present a self-signed certificate made at
   * start, which only this (or its CA in `ca`) accepts.
   */
  insecureSkipVerify?: boolean;
  /**
   * This node's certificate and key: with them the subscriber port serves HTTPS and registers
   * `secure: "true"`, and deliveries to mTLS subscribers present them.
   */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** `require`: the subscriber port refuses publishers without a certificate signed by `ca` (mTLS). Default `none`. */
  clientAuth?: "none" | "require";
}

export interface HttpBrokerOptions {
  /** Where subscribers are registered and found. The service's registry, normally. */
  registry: Registry;
  /**
   * Listen address for deliveries (`MICRO_BROKER_ADDRESS`). Default `127.0.0.1:0` with a
   * host-local registry (`local`, `memory`), else `0.0.0.0:0` advertised as a private address
   * (Go Micro always defaults to loopback, which silently breaks cross-host delivery).
   */
  address?: string;
  /**
   * How long publish() keeps retrying a delivery that failed (subscriber unreachable, or it
   * nacked) before rejecting with an UndeliveredError, in ms (default 5 s; 0: one attempt).
   */
  retryFor?: number;
  /** Milliseconds before the first retry of a failed delivery, doubling (jittered) up to 2 s (default 200). */
  retryInterval?: number;
  /** What a subscriber does with a message its handler fails (see the top of this file). */
  redelivery?: RedeliveryOptions;
  /**
   * Reject publish() when no subscriber of the topic is registered (default false: as every
   * pub/sub broker, a message nobody subscribes to is dropped without error).
   */
  requireSubscribers?: boolean;
  /** Largest accepted message, in bytes (default 16 MiB); a larger one is answered 413. */
  maxBodySize?: number;
  /** Time a client has to send a request's headers, in ms (default 10 s). */
  headersTimeout?: number;
  /** Time a client has to send a whole request, in ms (default 30 s). */
  requestTimeout?: number;
  /** An idle keep-alive connection is closed after this long, in ms (default 60 s). */
  idleTimeout?: number;
  /**
   * Bytes of messages the subscriber port holds at once, received or waiting for their handler
   * (default 64 MiB). Past it, a delivery is answered 503 and its publisher retries: memory stays
   * bounded however many publishers send at once.
   */
  maxBufferedBytes?: number;
  /** Connections the subscriber port holds at once (default 1,024); more are closed, and logged. */
  maxConnections?: number;
  /** How long disconnect() waits for handlers still running, in ms (default 30 s). */
  drainTimeout?: number;
  /** TLS for delivering to secure subscribers (Go Micro's `secure: "true"`): verified by default. */
  tls?: HttpBrokerTlsOptions;
  /** Signs this broker's subscriber nodes, so that verifying publishers deliver to them (the auth's signer). */
  signer?: NodeSigner;
  /**
   * Delivers only to subscriber nodes whose signature verifies (MICRO_REGISTRY_VERIFY, with the
   * auth's public key); unsigned or forged nodes get nothing, each logged once.
   */
  verifier?: NodeVerifier;
  logger?: Logger;
}

export interface RedeliveryOptions {
  /** Times a message is handled in all before it is dead-lettered (default 5; 1: no redelivery). */
  attempts?: number;
  /** Wait before the second attempt, in ms, doubling per attempt (default 100). */
  backoff?: number;
  /** Longest wait between attempts, in ms (default 2 s). */
  maxBackoff?: number;
  /**
   * Where a message goes after its last attempt: a topic name, or a function of the original
   * topic (default `<topic>.dlq`); false drops it (logged) and answers the publisher 500.
   */
  deadLetter?: string | ((topic: string) => string) | false;
}

/** A subscriber publish() could not deliver to. */
export interface UndeliveredSubscriber {
  /** Its node id in the registry. */
  subscriber: string;
  address: string;
  /** Its queue group; undefined for a plain (broadcast) subscriber. */
  queue: string | undefined;
  /** Why the last attempt failed. */
  reason: string;
}

/**
 * publish() could not deliver the message to some subscribers (503, `go.micro.broker`). The
 * others got it; publishing again reaches them again as well.
 */
export class UndeliveredError extends MicroError {
  constructor(
    readonly topic: string,
    readonly undelivered: UndeliveredSubscriber[],
    /** Subscribers the message was for. */
    readonly subscribers: number,
  ) {
    const list = undelivered.map((u) => `${u.subscriber} at ${u.address}${u.queue ? ` (queue ${u.queue})` : ""}: ${u.reason}`).join("; ");
    super(
      ErrorId.broker,
      503,
      subscribers === 0
        ? `http broker: no subscriber of ${JSON.stringify(topic)} is registered (requireSubscribers)`
        : `http broker: ${JSON.stringify(topic)} not delivered to ${undelivered.length} of ${subscribers} subscribers: ${list}`,
    );
  }
}

interface HttpSubscription extends Subscriber {
  record: ServiceRecord;
  dispatcher: Dispatcher;
}

/** Why a subscriber could not handle a message. */
interface HandlingFailure {
  /** Times it was handled. */
  attempts: number;
  reason: string;
  /** The subscription ended (or the broker is disconnecting) between attempts. */
  closing: boolean;
}

/** Where one publish goes: a broadcast node, or a queue group (any one member). */
interface Target {
  node: Node;
  queue: string | undefined;
}

/** A failed POST; `permanent` when no retry can succeed (the subscriber refused the message). */
class DeliveryFailure extends Error {
  constructor(
    message: string,
    readonly status = 0,
  ) {
    super(message);
  }
  /** 400 bad message, 413 too large, 500 the handler failed every attempt: sending it again changes nothing. */
  get permanent(): boolean {
    return this.status === 400 || this.status === 413 || this.status === 500;
  }
  /** 404: no such subscriber there (any more: it unsubscribed or is stopping). */
  get gone(): boolean {
    return this.status === 404;
  }
}

/**
 * node:http, loaded on the first subscribe or publish: a service that does neither (most only
 * call and serve) does not load it, about 2.5 ms of every start.
 */
const nodeHttp = builtin<typeof http>("node:http");
/** node:https, loaded only when TLS is configured (a plaintext broker does not load node:tls). */
const nodeHttps = builtin<typeof https>("node:https");

export class HttpBroker implements Broker {
  readonly name = "http";
  private registry: CacheRegistry;
  private readonly log: Logger;
  private readonly subscriptions = new Map<string, HttpSubscription>();
  /** Made on the first publish to a plaintext subscriber. */
  private plainAgent: http.Agent | undefined;
  /** Made on the first publish to an HTTPS subscriber (node:https is loaded only then). */
  private tlsAgent: https.Agent | undefined;
  private readonly listening: Lazy<http.Server>;
  private readonly limitLog: RateLimitedLog;
  private server: http.Server | undefined;
  private advertised = "";
  private heartbeat: NodeJS.Timeout | undefined;
  /** Aborted by disconnect(): publishes still retrying give up and report. */
  private closing = new AbortController();
  /** Requests being received or handled on the subscriber port (disconnect waits for them). */
  private readonly inflight = new InFlight();
  /** Bytes of messages held by requests on the subscriber port (see maxBufferedBytes). */
  private buffered = 0;
  /** With a verifier: the subscriber nodes whose signature verifies. */
  private readonly signedNodes: SignedNodes | undefined;

  constructor(private readonly options: HttpBrokerOptions) {
    this.registry = options.registry instanceof CacheRegistry ? options.registry : new CacheRegistry(options.registry);
    this.log = options.logger ?? defaultLogger();
    this.limitLog = new RateLimitedLog(this.log, LIMIT_LOG_INTERVAL);
    this.listening = new Lazy(() => this.listen());
    this.signedNodes = options.verifier && new SignedNodes(options.verifier, this.log);
  }

  /** Subscriber records as looked up: with a verifier, only the nodes whose signature verifies. */
  private trusted(services: readonly ServiceRecord[]): readonly ServiceRecord[] {
    return this.signedNodes ? this.signedNodes.verified(services) : services;
  }

  private agent(): http.Agent {
    this.plainAgent ??= new (nodeHttp().Agent)({ keepAlive: true, maxSockets: 32 });
    return this.plainAgent;
  }

  private secureAgent(): https.Agent {
    const tls = this.options.tls ?? {};
    this.tlsAgent ??= new (nodeHttps().Agent)({
      keepAlive: true,
      maxSockets: 32,
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      rejectUnauthorized: !tls.insecureSkipVerify,
    });
    return this.tlsAgent;
  }

  /** True when the subscriber port serves HTTPS (a certificate and key were given). */
  get secure(): boolean {
    return this.options.tls?.cert !== undefined && this.options.tls?.key !== undefined;
  }

  /** The advertised `host:port` subscribers receive on (empty until the first subscription). */
  get address(): string {
    return this.advertised;
  }

  /**
   * Nothing to connect to: the port for deliveries opens with the first subscription, so a
   * process that only calls, serves and publishes has none (and does not load node:http).
   */
  async connect(): Promise<void> {
    if (this.subscriptions.size > 0) await this.listening.get();
  }

  /**
   * Ends every subscription and closes: new deliveries are refused, handlers running finish
   * (within `drainTimeout`) and their answers are sent, then connections close. Publishes still
   * retrying stop and reject.
   */
  async disconnect(): Promise<void> {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.closing.abort();
    this.closing = new AbortController();
    await Promise.all([...this.subscriptions.values()].map((s) => s.unsubscribe()));
    if (this.registry !== this.options.registry) {
      // Our own cache: close its watches, and start a fresh one should we connect again.
      await this.registry.close();
      this.registry = new CacheRegistry(this.options.registry);
    }
    const server = this.server;
    this.server = undefined;
    this.listening.reset();
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (!(await this.inflight.drained(this.options.drainTimeout ?? 30_000)))
        this.log.warn("http broker: deliveries still being handled after drainTimeout; closing", { pending: this.inflight.size });
      server.closeAllConnections();
      await closed;
    }
    this.plainAgent?.destroy();
    this.tlsAgent?.destroy();
    this.plainAgent = undefined;
    this.tlsAgent = undefined;
  }

  /**
   * Delivers to every subscriber registered for `topic` now, retrying failures for `retryFor`;
   * rejects with an UndeliveredError naming those it could not reach.
   */
  async publish(topic: string, message: BrokerMessage, options: BrokerPublishOptions = {}): Promise<void> {
    await this.publishTo(topic, message, options);
  }

  /** publish(), resolving with the number of subscribers the message was delivered to. */
  private async publishTo(topic: string, message: BrokerMessage, options: BrokerPublishOptions = {}): Promise<number> {
    const body = encodeEnvelope({ header: { ...message.header, [MicroHeader.Topic]: topic }, body: message.body });
    const services = this.registry.getCached(HTTP_BROKER_SERVICE) ?? (await this.registry.getService(HTTP_BROKER_SERVICE));
    const targets = targetsOf(this.trusted(services), topic);
    if (targets.length === 0) {
      if (this.options.requireSubscribers) throw new UndeliveredError(topic, [], 0);
      return 0;
    }
    const signal = options.signal ? AbortSignal.any([options.signal, this.closing.signal]) : this.closing.signal;
    const results = await Promise.all(targets.map((target) => this.deliver(topic, body, target, signal, options.signal)));
    const undelivered = results.filter((r): r is UndeliveredSubscriber => r !== undefined);
    if (undelivered.length > 0) throw new UndeliveredError(topic, undelivered, targets.length);
    return targets.length;
  }

  async subscribe(topic: string, handler: BrokerHandler, options: SubscribeOptions = {}): Promise<Subscriber> {
    await this.listening.get();
    const queue = options.queue || undefined;
    const node: Node = { id: `${topic}-${randomUUID()}`, address: this.advertised, metadata: { broker: "http", topic, secure: String(this.secure) } };
    const record: ServiceRecord = { name: HTTP_BROKER_SERVICE, version: queue ?? BROADCAST_VERSION, metadata: null, endpoints: null, nodes: [node] };
    if (this.options.signer) signNodes(record, this.options.signer);
    const dispatcher = new Dispatcher(handler, { autoAck: options.autoAck ?? true, concurrency: options.concurrency ?? 1, log: this.log });
    const subscription: HttpSubscription = {
      topic,
      queue,
      record,
      dispatcher,
      unsubscribe: async () => {
        // Publishers stop choosing it; deliveries still arriving are answered 404 (so a queue
        // group's publisher tries another member); the ones accepted are handled to the end
        // (disconnect() waits for them: a service drains its own handlers within its grace period).
        if (!this.subscriptions.delete(node.id)) return;
        await this.registry
          .deregister(record)
          .catch((err: Error) => this.log.warn("http broker: deregistering a subscriber failed", { topic, err: err.message }));
      },
    };
    await this.registry.register(record, { ttl: REGISTER_TTL });
    this.subscriptions.set(node.id, subscription);
    return subscription;
  }

  private async listen(): Promise<http.Server> {
    const headersTimeout = this.options.headersTimeout ?? 10_000;
    const requestTimeout = Math.max(this.options.requestTimeout ?? 30_000, headersTimeout);
    // Node checks these timeouts every connectionsCheckingInterval (30 s by default): too coarse.
    const settings = {
      headersTimeout,
      requestTimeout,
      keepAliveTimeout: this.options.idleTimeout ?? 60_000,
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, headersTimeout / 2)),
    };
    const tls = this.options.tls;
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => void this.receive(req, res);
    const mtls = tls?.clientAuth === "require";
    const server: http.Server = this.secure
      ? nodeHttps().createServer({ ...settings, cert: tls?.cert, key: tls?.key, ca: tls?.ca, requestCert: mtls, rejectUnauthorized: mtls }, onRequest)
      : nodeHttp().createServer(settings, onRequest);
    if (this.secure) {
      server.on("tlsClientError", (err: Error, socket: Socket) =>
        this.limitLog.warn("http broker: TLS handshake failed", { peer: `${socket.remoteAddress}:${socket.remotePort}`, err: err.message }, "tls"),
      );
    }
    server.maxConnections = this.options.maxConnections ?? 1_024;
    server.on("drop", (peer?: { remoteAddress?: string; remotePort?: number }) =>
      this.limitLog.warn("http broker: connection refused: maxConnections reached", {
        peer: `${peer?.remoteAddress}:${peer?.remotePort}`,
        limit: server.maxConnections,
      }),
    );
    server.on("clientError", (err: Error & { code?: string }, socket: Socket) => {
      this.limitLog.warn("http broker: bad or timed-out request", { peer: `${socket.remoteAddress}:${socket.remotePort}`, err: err.code ?? err.message });
      const status = err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
      if (socket.writable) socket.write(`HTTP/1.1 ${status} ${nodeHttp().STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    });
    const { host, port } = splitAddress(this.options.address ?? process.env.MICRO_BROKER_ADDRESS ?? this.defaultAddress());
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const bound = server.address() as AddressInfo;
    this.advertised = joinAddress(advertisedHost(bound.address), bound.port);
    this.server = server;
    this.heartbeat = setInterval(() => void this.reregister(), REGISTER_INTERVAL).unref();
    return server;
  }

  private defaultAddress(): string {
    return this.registry.name === "local" || this.registry.name === "memory" ? "127.0.0.1:0" : "0.0.0.0:0";
  }

  private async reregister(): Promise<void> {
    for (const s of this.subscriptions.values()) {
      await this.registry
        .register(s.record, { ttl: REGISTER_TTL })
        .catch((err: Error) => this.log.warn("http broker: re-registering a subscriber failed", { topic: s.topic, err: err.message }));
    }
  }

  private async receive(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.inflight.begin();
    res.once("close", () => {
      this.inflight.end();
    });
    try {
      await this.handle(req, res);
    } catch (err) {
      // Never reached by design; a bug here must not take the process down.
      this.log.error("http broker: failed to handle a delivery", { err: (err as Error).message });
      if (!res.headersSent) reply(res, 500, "internal error");
    }
  }

  /**
   * Go Micro's ServeHTTP, with 400 for a bad message, 404 for an unknown subscriber, 413 for an
   * oversize one; a message its handler fails is handled again and then dead-lettered (200), or
   * answered 500 when it could not be, and 503 when the subscription ends between attempts.
   */
  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const peer = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    if (req.method !== "POST") return reply(res, 405, "Method not allowed");
    const limit = this.options.maxBodySize ?? 16 << 20;
    const budget = this.options.maxBufferedBytes ?? 64 << 20;
    // Bytes of this request counted in `buffered` until its answer is sent (the message is held
    // until its handler finishes, queued behind others or running).
    let held = 0;
    res.once("close", () => (this.buffered -= held));
    const reserve = (n: number): boolean => {
      if (this.buffered + n > budget) return false;
      this.buffered += n;
      held += n;
      return true;
    };
    let bytes: Buffer;
    try {
      bytes = await readBody(req, limit, reserve);
    } catch (err) {
      if (err instanceof TooLarge) {
        this.limitLog.warn("http broker: message too large", { peer, limit });
        return reply(res, 413, err.message, true);
      }
      if (err instanceof Busy) {
        this.limitLog.warn("http broker: messages held at maxBufferedBytes: refusing more until handlers catch up", { peer, limit: budget });
        return reply(res, 503, `subscriber busy: ${budget} bytes of messages already waiting for handlers; retry later`, true);
      }
      return reply(res, 400, `reading the request failed: ${(err as Error).message}`, true);
    }
    let message: BrokerMessage;
    try {
      message = decodeEnvelope(bytes);
    } catch (err) {
      this.limitLog.warn("http broker: malformed message", { peer, err: (err as Error).message });
      return reply(res, 400, `invalid message: ${(err as Error).message}; expected Go Micro's {"Header":{…},"Body":"<base64>"}`);
    }
    const topic = headerValue(message.header, MicroHeader.Topic);
    if (!topic) return reply(res, 400, `invalid message: no ${MicroHeader.Topic} header`);
    const id = new URL(req.url ?? "/", "http://x").searchParams.get("id") ?? "";
    const subscription = this.subscriptions.get(id);
    if (!subscription || subscription.topic !== topic) return reply(res, 404, `no subscriber ${id} for topic ${topic} here`);
    const failure = await this.handleWithRetries(subscription, topic, message);
    if (failure === undefined) return void res.writeHead(200).end();
    if (failure.closing) return reply(res, 503, "subscriber stopping; retry later");
    const deadLettered = await this.deadLetter(topic, message, failure);
    if (deadLettered) return void res.writeHead(200).end();
    reply(res, 500, `handler failed ${failure.attempts} times: ${failure.reason}`);
  }

  /**
   * Hands the message to the subscription's handler until it is acked, at most
   * `redelivery.attempts` times, waiting longer before each attempt (the wait holds no handler
   * slot: other messages go on meanwhile). Resolves undefined once it is handled, else with why not.
   */
  private async handleWithRetries(subscription: HttpSubscription, topic: string, message: BrokerMessage): Promise<HandlingFailure | undefined> {
    const options = this.options.redelivery ?? {};
    const attempts = Math.max(1, options.attempts ?? 5);
    let reason = "";
    for (let attempt = 1; ; attempt++) {
      let outcome: "ack" | "retry" | "dead" = "ack";
      await subscription.dispatcher.pushAndWait({
        topic,
        message,
        attempt,
        nack: (requeue, why) => {
          outcome = requeue ? "retry" : "dead";
          reason = why ?? "the handler nacked the message";
        },
      });
      if (outcome === "ack") return undefined;
      if (outcome === "dead" || attempt >= attempts) return { attempts: attempt, reason, closing: false };
      const wait = Math.min(options.maxBackoff ?? 2_000, (options.backoff ?? 100) * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      const waited = await sleep(wait, true, { signal: this.closing.signal }).catch(() => false);
      if (!waited || !this.subscriptions.has(subscription.record.nodes[0].id)) return { attempts: attempt, reason, closing: true };
    }
  }

  /** Publishes a message its handler gave up on to its dead-letter topic; false when there is none or it failed. */
  private async deadLetter(topic: string, message: BrokerMessage, failure: HandlingFailure): Promise<boolean> {
    const target = this.options.redelivery?.deadLetter;
    const deadTopic = target === false ? undefined : typeof target === "function" ? target(topic) : (target ?? `${topic}.dlq`);
    const fields = { topic, id: headerValue(message.header, MicroHeader.Id), attempts: failure.attempts, reason: failure.reason };
    if (deadTopic === undefined || deadTopic === topic) {
      this.log.error("http broker: message dropped: its handler failed every attempt", fields);
      return false;
    }
    const header: Record<string, string> = {};
    for (const [key, value] of Object.entries(message.header)) if (key.toLowerCase() !== MicroHeader.Topic.toLowerCase()) header[key] = value;
    header[MicroHeader.DeadLetterTopic] = topic;
    header[MicroHeader.DeadLetterReason] = failure.reason;
    header[MicroHeader.DeadLetterAttempts] = failure.attempts.toFixed(0);
    try {
      // As any message nobody subscribes to, one for a dead-letter topic with no subscriber is
      // dropped; it is said loudly here, since this one failed.
      if ((await this.publishTo(deadTopic, { header, body: message.body })) === 0) {
        this.log.error("http broker: message dropped: its handler failed every attempt and nothing subscribes to its dead-letter topic", {
          ...fields,
          deadLetter: deadTopic,
        });
      } else this.log.warn("http broker: message dead-lettered: its handler failed every attempt", { ...fields, deadLetter: deadTopic });
      return true;
    } catch (err) {
      this.log.error("http broker: dead-lettering a message failed", { ...fields, deadLetter: deadTopic, err: (err as Error).message });
      return false;
    }
  }

  /**
   * Delivers to one target, retrying a failure every `retryInterval` until `retryFor` has
   * passed (a queue group's retry goes to any member registered then). Resolves undefined once
   * delivered, or with what went wrong.
   */
  private async deliver(
    topic: string,
    body: Buffer,
    target: Target,
    signal: AbortSignal,
    callerSignal: AbortSignal | undefined,
  ): Promise<UndeliveredSubscriber | undefined> {
    const started = Date.now();
    const retryFor = this.options.retryFor ?? 5_000;
    const gone = new Set<string>();
    let node = target.node;
    for (let attempt = 1; ; attempt++) {
      const failure = await this.post(node, body, callerSignal).then(
        () => undefined,
        (err: unknown) => (err instanceof DeliveryFailure ? err : new DeliveryFailure((err as Error).message)),
      );
      if (!failure) return undefined;
      const report: UndeliveredSubscriber = { subscriber: node.id, address: node.address, queue: target.queue, reason: failure.message };
      // A plain subscriber that is gone (it unsubscribed, or stopped before taking the message) stays gone.
      if (failure.gone && target.queue === undefined) return report;
      if (failure.gone) gone.add(node.id);
      const aborted = { ...report, reason: `${report.reason} (publish aborted)` };
      const timeLeft = (): boolean => Date.now() - started < retryFor;
      if (signal.aborted) return aborted;
      if (failure.permanent || !timeLeft()) return report;
      this.log.debug("http broker: delivery failed, retrying", { topic, node: node.id, err: failure.message });
      if (!failure.gone && !(await this.pause(signal, attempt))) return aborted;
      let next = await this.retryNode(topic, target, gone);
      // A queue group with no member registered right now (one restarting, say) may get one in time.
      while (!next && target.queue !== undefined && timeLeft()) {
        if (!(await this.pause(signal, 1))) return aborted;
        next = await this.retryNode(topic, target, gone);
      }
      if (!next) return { ...report, reason: `${report.reason}; no longer registered` };
      node = next;
    }
  }

  /** Waits before retry `attempt`: `retryInterval` doubling up to 2 s, jittered; false when the publish was aborted meanwhile. */
  private pause(signal: AbortSignal, attempt: number): Promise<boolean> {
    const base = this.options.retryInterval ?? 200;
    const wait = Math.min(Math.max(base, 2_000), base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
    return sleep(wait, true, { signal }).catch(() => false);
  }

  /** Who to retry with: the same broadcast node if still registered, else any member of the queue group not known to be gone. */
  private async retryNode(topic: string, target: Target, gone: Set<string>): Promise<Node | undefined> {
    const services = this.trusted(await this.registry.getService(HTTP_BROKER_SERVICE).catch(() => [] as ServiceRecord[]));
    const version = target.queue ?? BROADCAST_VERSION;
    const nodes = services
      .filter((s) => s.version === version)
      .flatMap((s) => s.nodes)
      .filter((n) => n.metadata?.topic === topic && !gone.has(n.id));
    if (target.queue === undefined) return nodes.find((n) => n.id === target.node.id);
    return nodes.length > 0 ? nodes[randomInt(nodes.length)] : undefined;
  }

  /**
   * One POST; rejects with a DeliveryFailure unless the subscriber answered 200. Only a caller's
   * signal is attached: a signal on every request costs ~20 % of throughput, and disconnect()
   * ends requests under way by destroying the agents.
   */
  private post(node: Node, body: Buffer, signal: AbortSignal | undefined): Promise<void> {
    const secure = node.metadata?.secure === "true";
    const { host, port } = splitAddress(node.address);
    return new Promise((resolve, reject) => {
      const req = (secure ? nodeHttps() : nodeHttp()).request(
        {
          host,
          port,
          method: "POST",
          path: `/?id=${encodeURIComponent(node.id)}`,
          agent: secure ? this.secureAgent() : this.agent(),
          ...(signal && { signal }),
          headers: { [MicroHeader.ContentType]: ContentType.json, "Content-Length": body.length },
        },
        (res) => {
          if (res.statusCode === 200) {
            res.resume();
            res.on("end", resolve);
          } else {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => {
              if (text.length < 1_024) text += chunk;
            });
            res.on("end", () => reject(new DeliveryFailure(`HTTP ${res.statusCode}${text ? ` ${MicroError.parse(text).detail}` : ""}`, res.statusCode)));
          }
          res.on("error", reject);
        },
      );
      req.setTimeout(DELIVERY_TIMEOUT, () => req.destroy(new Error("delivery timed out")));
      req.on("error", reject);
      req.end(body);
    });
  }
}

/** Every broadcast node of `topic`, and one random member of each of its queue groups. */
function targetsOf(services: readonly ServiceRecord[], topic: string): Target[] {
  const targets: Target[] = [];
  for (const service of services) {
    const nodes = service.nodes.filter((n) => n.metadata?.broker === "http" && n.metadata?.topic === topic);
    if (nodes.length === 0) continue;
    if (service.version === BROADCAST_VERSION) for (const node of nodes) targets.push({ node, queue: undefined });
    else targets.push({ node: nodes[randomInt(nodes.length)], queue: service.version });
  }
  return targets;
}

function reply(res: http.ServerResponse, code: number, detail: string, close = false): void {
  const headers: Record<string, string> = { [MicroHeader.ContentType]: ContentType.json };
  // The rest of an oversize or broken body is not read: the connection cannot carry another request.
  if (close) headers.Connection = "close";
  res.writeHead(code, headers).end(new MicroError(ErrorId.broker, code, detail).toString());
}

class TooLarge extends Error {}
class Busy extends Error {}

/** The request's body, up to `limit` bytes, each chunk first reserved against the port's budget. */
function readBody(req: http.IncomingMessage, limit: number, reserve: (bytes: number) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (declared > limit) return reject(new TooLarge(`message of ${declared} bytes is larger than the limit of ${limit} bytes`));
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit && reserve(chunk.length)) return void chunks.push(chunk);
      req.off("data", onData);
      req.pause();
      reject(size > limit ? new TooLarge(`message larger than the limit of ${limit} bytes`) : new Busy());
    };
    req.on("data", onData);
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  const host = colon === -1 ? address : address.slice(0, colon);
  const port = colon === -1 ? 0 : Number(address.slice(colon + 1));
  return { host: host.replace(/^\[|\]$/g, "") || "0.0.0.0", port };
}

function joinAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A wildcard listen address is advertised as a private IPv4 address, as Go Micro's addr.Extract. */
function advertisedHost(bound: string): string {
  if (bound !== "0.0.0.0" && bound !== "::") return bound;
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}
