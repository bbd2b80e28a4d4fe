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
 * Unlike Go Micro (which forgets failures after at most 64 messages), a failed delivery (node
 * unreachable, or the subscriber nacked and answered 503) is retried from a bounded per-topic
 * inbox until `retryFor` has passed; for a queue group the retry may go to another member.
 * Each subscription gets its own node id, so two subscriptions in one process never see each
 * other's messages.
 */
import { randomInt, randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { MicroError } from "../errors/errors.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import { CacheRegistry } from "../registry/cache.js";
import type { Node, Registry, Service } from "../registry/registry.js";
import { headerValue, MicroHeader } from "../metadata/headers.js";
import type { Broker, BrokerHandler, BrokerMessage, SubscribeOptions, Subscriber } from "./broker.js";
import { Lazy } from "../driver/lazy.js";
import { Dispatcher } from "./dispatcher.js";
import { decodeEnvelope, encodeEnvelope } from "./envelope.js";

export const HTTP_BROKER_SERVICE = "micro.http.broker";
export const BROADCAST_VERSION = "ff.http.broadcast";
const REGISTER_TTL = 60_000;
const REGISTER_INTERVAL = 30_000;
const ERROR_ID = "go.micro.broker";

export interface HttpBrokerOptions {
  /** Where subscribers are registered and found. The service's registry, normally. */
  registry: Registry;
  /**
   * Listen address for deliveries (`MICRO_BROKER_ADDRESS`). Default `127.0.0.1:0` with a
   * host-local registry (`local`, `memory`), else `0.0.0.0:0` advertised as a private address
   * (Go Micro always defaults to loopback, which silently breaks cross-host delivery).
   */
  address?: string;
  /** Undelivered messages kept per topic for retry (default 1,000; Go Micro keeps 64). */
  inboxSize?: number;
  /** How long a failed delivery is retried, in ms (default 60 s). */
  retryFor?: number;
  /** Milliseconds between retry rounds (default 200). */
  retryInterval?: number;
  /** Largest accepted message, in bytes (default 16 MiB). */
  maxBodySize?: number;
  logger?: Logger;
}

interface HttpSubscription extends Subscriber {
  record: Service;
  dispatcher: Dispatcher;
}

interface Undelivered {
  topic: string;
  /** The queue version to retry with any member of; undefined: retry `node` itself (broadcast). */
  version: string | undefined;
  nodeId: string;
  body: Buffer;
  since: number;
}

export class HttpBroker implements Broker {
  readonly name = "http";
  private registry: CacheRegistry;
  private readonly log: Logger;
  private readonly subscriptions = new Map<string, HttpSubscription>();
  private readonly inbox = new Map<string, Undelivered[]>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private readonly tlsAgent = new https.Agent({ keepAlive: true, maxSockets: 32, rejectUnauthorized: false });
  private readonly listening: Lazy<http.Server>;
  private server: http.Server | undefined;
  private advertised = "";
  private heartbeat: NodeJS.Timeout | undefined;
  private retrier: NodeJS.Timeout | undefined;
  private retrying = false;

  constructor(private readonly options: HttpBrokerOptions) {
    this.registry = options.registry instanceof CacheRegistry ? options.registry : new CacheRegistry(options.registry);
    this.log = options.logger ?? defaultLogger();
    this.listening = new Lazy(() => this.listen());
  }

  /** The advertised `host:port` subscribers receive on (empty until connected). */
  get address(): string {
    return this.advertised;
  }

  async connect(): Promise<void> {
    await this.listening.get();
  }

  async disconnect(): Promise<void> {
    clearInterval(this.heartbeat);
    clearInterval(this.retrier);
    this.heartbeat = this.retrier = undefined;
    for (const s of [...this.subscriptions.values()]) await s.unsubscribe();
    if (this.registry !== this.options.registry) {
      // Our own cache: close its watches, and start a fresh one should we connect again.
      await this.registry.close();
      this.registry = new CacheRegistry(this.options.registry);
    }
    const server = this.server;
    this.server = undefined;
    this.listening.reset();
    this.agent.destroy();
    this.tlsAgent.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections());
  }

  /** Delivers to the subscribers registered now; failures are retried from the inbox. */
  async publish(topic: string, message: BrokerMessage): Promise<void> {
    const body = encodeEnvelope({ header: { ...message.header, [MicroHeader.Topic]: topic }, body: message.body });
    const services = this.registry.getCached(HTTP_BROKER_SERVICE) ?? (await this.registry.getService(HTTP_BROKER_SERVICE));
    const deliveries: Promise<void>[] = [];
    for (const service of services) {
      const nodes = service.nodes.filter((n) => n.metadata?.broker === "http" && n.metadata?.topic === topic);
      if (nodes.length === 0) continue;
      if (service.version === BROADCAST_VERSION) {
        for (const node of nodes) deliveries.push(this.deliver(node, body, { topic, version: undefined, nodeId: node.id, body, since: Date.now() }));
      } else {
        const node = nodes[randomInt(nodes.length)];
        deliveries.push(this.deliver(node, body, { topic, version: service.version, nodeId: node.id, body, since: Date.now() }));
      }
    }
    await Promise.all(deliveries);
  }

  async subscribe(topic: string, handler: BrokerHandler, options: SubscribeOptions = {}): Promise<Subscriber> {
    await this.connect();
    const queue = options.queue || undefined;
    const node: Node = { id: `${topic}-${randomUUID()}`, address: this.advertised, metadata: { broker: "http", topic, secure: "false" } };
    const record: Service = { name: HTTP_BROKER_SERVICE, version: queue ?? BROADCAST_VERSION, metadata: null, endpoints: null, nodes: [node] };
    const subscription: HttpSubscription = {
      topic,
      queue,
      record,
      dispatcher: new Dispatcher(handler, { autoAck: options.autoAck ?? true, concurrency: options.concurrency ?? 1, log: this.log }),
      unsubscribe: async () => {
        if (!this.subscriptions.delete(node.id)) return;
        await this.registry.deregister(record).catch((err: Error) => this.log.warn("http broker: deregistering a subscriber failed", { topic, err: err.message }));
      },
    };
    await this.registry.register(record, { ttl: REGISTER_TTL });
    this.subscriptions.set(node.id, subscription);
    return subscription;
  }

  private async listen(): Promise<http.Server> {
    const server = http.createServer((req, res) => void this.receive(req, res));
    server.keepAliveTimeout = 60_000;
    const { host, port } = splitAddress(this.options.address ?? process.env.MICRO_BROKER_ADDRESS ?? this.defaultAddress());
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => (server.off("error", reject), resolve()));
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
      await this.registry.register(s.record, { ttl: REGISTER_TTL }).catch((err: Error) => this.log.warn("http broker: re-registering a subscriber failed", { topic: s.topic, err: err.message }));
    }
  }

  /** Go Micro's ServeHTTP, plus 404 for an unknown subscriber and 503 when the handler nacked. */
  private async receive(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const fail = (code: number, detail: string): void => {
      res.writeHead(code, { "Content-Type": "application/json" }).end(new MicroError(ERROR_ID, code, detail).toString());
    };
    if (req.method !== "POST") return fail(405, "Method not allowed");
    let message: BrokerMessage;
    try {
      message = decodeEnvelope(await readBody(req, this.options.maxBodySize ?? 16 << 20));
    } catch (err) {
      this.log.warn("http broker: dropped a malformed message", { remote: req.socket.remoteAddress, err: (err as Error).message });
      return fail(500, `Error parsing request body: ${(err as Error).message}`);
    }
    const topic = headerValue(message.header, MicroHeader.Topic);
    if (!topic) return fail(500, "Topic not found");
    const id = new URL(req.url ?? "/", "http://x").searchParams.get("id") ?? "";
    const subscription = this.subscriptions.get(id);
    if (!subscription || subscription.topic !== topic) return fail(404, `no subscriber ${id} for topic ${topic} here`);
    let redeliver = false;
    await subscription.dispatcher.pushAndWait({ topic, message, nack: (requeue) => void (redeliver = requeue) });
    if (redeliver) return fail(503, "subscriber asked for redelivery");
    res.writeHead(200).end();
  }

  /** One POST; a failure goes to the inbox. Never rejects. */
  private async deliver(node: Node, body: Buffer, item: Undelivered): Promise<void> {
    try {
      await this.post(node, body);
    } catch (err) {
      this.log.debug("http broker: delivery failed, will retry", { topic: item.topic, node: node.id, err: (err as Error).message });
      this.saveForRetry(item);
    }
  }

  private post(node: Node, body: Buffer): Promise<void> {
    const secure = node.metadata?.secure === "true";
    const { host, port } = splitAddress(node.address);
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(
        { host, port, method: "POST", path: `/?id=${encodeURIComponent(node.id)}`, agent: secure ? this.tlsAgent : this.agent, headers: { "Content-Type": "application/json", "Content-Length": body.length } },
        (res) => {
          res.resume();
          res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
          res.on("error", reject);
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error("delivery timed out")));
      req.on("error", reject);
      req.end(body);
    });
  }

  private saveForRetry(item: Undelivered): void {
    const queue = this.inbox.get(item.topic) ?? [];
    this.inbox.set(item.topic, queue);
    if (queue.length >= (this.options.inboxSize ?? 1_000)) {
      this.log.warn("http broker: inbox full, dropping an undelivered message", { topic: item.topic });
      return;
    }
    queue.push(item);
    this.retrier ??= setInterval(() => void this.retry(), this.options.retryInterval ?? 200).unref();
  }

  /** Retries everything in the inbox once; items that fail again go back in. */
  private async retry(): Promise<void> {
    if (this.retrying) return;
    if (this.inbox.size === 0) {
      clearInterval(this.retrier);
      this.retrier = undefined;
      return;
    }
    this.retrying = true;
    try {
      const items = [...this.inbox.values()].flat();
      this.inbox.clear();
      const services = await this.registry.getService(HTTP_BROKER_SERVICE).catch(() => [] as Service[]);
      await Promise.all(items.map((item) => this.retryOne(item, services)));
    } finally {
      this.retrying = false;
    }
  }

  private async retryOne(item: Undelivered, services: Service[]): Promise<void> {
    if (Date.now() - item.since > (this.options.retryFor ?? 60_000)) {
      this.log.warn("http broker: giving up on an undelivered message", { topic: item.topic, node: item.nodeId });
      return;
    }
    const candidates = services
      .filter((s) => (item.version === undefined ? s.version === BROADCAST_VERSION : s.version === item.version))
      .flatMap((s) => s.nodes)
      .filter((n) => n.metadata?.topic === item.topic && (item.version !== undefined || n.id === item.nodeId));
    // A broadcast node that deregistered is gone for good; a queue group may have other members.
    if (candidates.length === 0 && item.version === undefined) return;
    if (candidates.length === 0) return this.saveForRetry(item);
    const node = candidates[randomInt(candidates.length)];
    await this.deliver(node, item.body, item);
  }
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) req.destroy(new Error(`message larger than ${limit} bytes`));
      else chunks.push(chunk);
    });
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
