/**
 * The NATS registry, on the wire exactly Go Micro's `registry/nats`, so Go Micro and ts-micro
 * services find each other through one NATS server.
 *
 * There is no central store. Every process answers for the nodes it registered:
 * - `register` / `deregister` announce `{"Action":"create"|"delete","Service":{…}}` on
 *   `micro.nats.watch` (what watchers hear);
 * - `getService` / `listServices` publish `{"Action":"get"|"list","Service":…}` on
 *   `micro.nats.query` with a reply inbox; each owner answers with one `json(Service)` per version,
 *   and the asker collects answers for `queryTimeout` (100 ms, Go Micro's), and then for as long as
 *   they keep coming (see query()).
 *
 * TTL. Go Micro's NATS registry ignores it; this one honours it without changing the wire:
 * - An owner expires its own nodes: a node not re-registered within its TTL is no longer answered
 *   for and is announced deleted (a process alive but no longer heartbeating disappears).
 * - A dead owner answers no queries, so lookups miss it at once. Watchers only hear announcements,
 *   so each registry keeps a last-heard time per node: a node silent for its TTL is confirmed with
 *   one `get` query, and if its owner doesn't answer for it, watchers get a `delete`. The TTL rides
 *   in the announcement as an extra `TTL` field in nanoseconds (a Go `time.Duration`); Go Micro
 *   ignores unknown fields. Go Micro's own announcements carry none, so they get the 90 s default,
 *   and the confirming query keeps a quiet but living Go node.
 * - A NATS outage is not evidence that nodes died: expiry is suspended while disconnected. On
 *   reconnect, owners re-announce their nodes and open watchers end, so their consumers (the
 *   CacheRegistry) watch again and re-read what they missed.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { loadDriver } from "../driver/driver.js";
import { Lazy } from "../driver/lazy.js";
import { type NatsConnectionOptions, type NatsHandle, openNatsConnection, parseServers } from "../driver/nats.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import { NodeLiveness, recordKey } from "./liveness.js";
import { cloneService, mergeServices, withNodes } from "./records.js";
import { DEFAULT_REGISTER_TTL, type RegisterOptions, type Registry, type ServiceRecord, type Watcher, type WatchOptions } from "./registry.js";
import { WatcherSet } from "./watchers.js";
import { encodeService, parseService, toGo } from "./wire.js";

export type { NatsConnectionOptions, NatsTlsOptions } from "../driver/nats.js";

type NatsDriver = typeof import("@nats-io/transport-node");

/** Where NATS is (`servers` or a shared `connection`), TLS, logger (see NatsConnectionOptions), and the registry's own settings. */
export interface NatsRegistryOptions extends NatsConnectionOptions {
  /**
   * Milliseconds a lookup collects answers (default 100, Go Micro's). Answers still arriving then
   * are waited for, as long as each comes within this long of the one before (see maxQueryTime).
   */
  queryTimeout?: number;
  /** Milliseconds a lookup collects answers at most while they keep coming. Default 10 × queryTimeout. */
  maxQueryTime?: number;
  /** Milliseconds between expiry checks. Default 500. */
  sweepInterval?: number;
  /** Milliseconds the first connection attempt may take. Default 2000. */
  connectTimeout?: number;
  /** Default `micro.nats.query` (Go Micro's). */
  queryTopic?: string;
  /** Default `micro.nats.watch` (Go Micro's). */
  watchTopic?: string;
}

/** What a `get` query for one service is answered with: one `json(Service)` per version, encoded once. */
interface EncodedAnswer {
  payloads: Uint8Array[];
  /** When the first of the nodes in it expires (it must then be made again without that node). */
  validUntil: number;
}

/** A one-node record we own and when it expires. */
interface NodeRecord {
  service: ServiceRecord;
  ttl: number;
  expiresAt: number;
}

/** Go Micro's `registry.Result` (no json tags, hence the capitals), plus our optional TTL. */
interface Announcement {
  action: string;
  service: ServiceRecord | undefined;
  ttl: number | undefined;
}

export class NatsRegistry implements Registry {
  readonly name = "nats";
  readonly servers: string[];
  private readonly queryTimeout: number;
  private readonly maxQueryTime: number;
  private readonly sweepInterval: number;
  private readonly connectTimeout: number;
  private readonly queryTopic: string;
  private readonly watchTopic: string;
  /** Nodes this process registered and answers for. */
  private readonly owned = new Map<string, Map<string, NodeRecord>>(); // service name → node key → record
  /** Answers to `get` queries, by service name; dropped when the service's owned nodes change. */
  private readonly encodedAnswers = new Map<string, EncodedAnswer>();
  /** Nodes heard of through announcements or answers (only while watching). */
  private readonly heard = new NodeLiveness(
    { emit: (action, record) => this.watchers.emit(action, record), lookup: (name) => this.getService(name) },
    DEFAULT_REGISTER_TTL,
  );
  private readonly watchers = new WatcherSet();
  private readonly connection = new Lazy(() => this.connect());
  private readonly log: Logger;
  private handle: NatsHandle | undefined;
  private createInbox: NatsDriver["createInbox"] | undefined;
  private querySubscription: Subscription | undefined;
  private watchSubscription: Subscription | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private connected = false;
  private closed = false;

  constructor(private readonly options: NatsRegistryOptions = {}) {
    this.servers = parseServers(options.servers);
    this.log = options.logger ?? defaultLogger();
    this.queryTimeout = options.queryTimeout ?? 100;
    this.maxQueryTime = Math.max(this.queryTimeout, options.maxQueryTime ?? 10 * this.queryTimeout);
    this.sweepInterval = options.sweepInterval ?? 500;
    this.connectTimeout = options.connectTimeout ?? 2_000;
    this.queryTopic = options.queryTopic ?? "micro.nats.query";
    this.watchTopic = options.watchTopic ?? "micro.nats.watch";
  }

  async register(service: ServiceRecord, options: RegisterOptions = {}): Promise<void> {
    const nc = await this.connection.get();
    this.answerQueries(nc);
    const ttl = options.ttl ?? DEFAULT_REGISTER_TTL;
    const owned = this.owned.get(service.name) ?? new Map<string, NodeRecord>();
    this.owned.set(service.name, owned);
    this.encodedAnswers.delete(service.name);
    for (const node of service.nodes) {
      owned.set(recordKey(service, node.id), { service: cloneService(withNodes(service, [node])), ttl, expiresAt: Date.now() + ttl });
    }
    this.announce(nc, "create", service, ttl);
  }

  async deregister(service: ServiceRecord): Promise<void> {
    const nc = await this.connection.get();
    for (const node of service.nodes) this.disown(service.name, recordKey(service, node.id));
    this.announce(nc, "delete", service);
  }

  async getService(name: string): Promise<ServiceRecord[]> {
    const query = { name, version: "", metadata: null, endpoints: null, nodes: null }; // Go's &Service{Name: name}
    // Nodes heard of are owners known to exist: their answers are waited for (see query()).
    const expected = this.watchSubscription ? this.heard.heardOf(name) : new Set<string>();
    const services = mergeServices((await this.query("get", query, expected)).filter((s) => s.name === name));
    if (this.watchSubscription) this.heard.lookedUp(name, services);
    return services;
  }

  async listServices(): Promise<ServiceRecord[]> {
    return mergeServices(await this.query("list", null));
  }

  watch(options: WatchOptions = {}): Watcher {
    const watcher = this.watchers.add(options);
    // Subscribes before any later register() publishes: both wait on the same connection promise,
    // and this continuation was queued first.
    this.connection.get().then(
      (nc) => this.startWatching(nc),
      (err: unknown) => {
        this.log.debug("nats registry: watch failed", { error: String(err) });
        watcher.stop();
      },
    );
    return watcher;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    this.watchers.stopAll();
    await this.connection.peek()?.catch(() => undefined);
    // A shared connection stays open: what we subscribed on it goes.
    this.querySubscription?.unsubscribe();
    this.watchSubscription?.unsubscribe();
    await this.handle?.release();
  }

  // --- connection ------------------------------------------------------------------------------

  private async connect(): Promise<NatsConnection> {
    if (this.closed) throw new Error("nats registry: closed");
    this.createInbox ??= (await loadDriver<NatsDriver>("@nats-io/transport-node", "nats registry")).createInbox;
    const handle = await openNatsConnection(
      { ...this.options, logger: this.log },
      {
        plugin: "nats registry",
        name: "ts-micro registry",
        timeout: this.connectTimeout,
        onDisconnect: () => (this.connected = false),
        onReconnect: () => {
          this.connected = true;
          this.resync(handle.nc);
        },
      },
    );
    if (this.closed) {
      await handle.release();
      throw new Error("nats registry: closed");
    }
    const nc = handle.nc;
    this.handle = handle;
    this.connected = true;
    this.sweeper = setInterval(() => this.sweep(nc), this.sweepInterval).unref();
    return nc;
  }

  /** After an outage: tell everyone about our nodes again, and make watchers re-read. */
  private resync(nc: NatsConnection): void {
    for (const record of this.ownedRecords()) this.announce(nc, "create", record.service, record.ttl);
    this.heard.restartClocks();
    this.watchers.stopAll();
  }

  // --- announcements -----------------------------------------------------------------------------

  private announce(nc: NatsConnection, action: "create" | "delete", service: ServiceRecord, ttl?: number): void {
    const result: Record<string, unknown> = { Action: action, Service: toGo(service) };
    if (ttl !== undefined) result.TTL = ttl * 1e6;
    // Published even while reconnecting: the client buffers it and sends it once back.
    nc.publish(this.watchTopic, JSON.stringify(result));
  }

  private startWatching(nc: NatsConnection): void {
    this.watchSubscription ??= nc.subscribe(this.watchTopic, { callback: (err, msg) => void (err || this.onAnnouncement(msg.data)) });
  }

  private onAnnouncement(data: Uint8Array): void {
    const announcement = decodeAnnouncement(data);
    if (!announcement?.service) return;
    const { action, service, ttl } = announcement;
    for (const node of service.nodes) {
      if (action === "delete") this.heard.removed(withNodes(service, [node]));
      else this.heard.announced(withNodes(service, [node]), ttl);
    }
  }

  // --- queries -------------------------------------------------------------------------------------

  /**
   * Publishes a query and collects the answers: for `queryTimeout`, as Go Micro does, and past it
   * while answers keep coming, each within `queryTimeout` of the one before, up to `maxQueryTime`.
   * Owners busy with other work (a host running many services, all of which hear every query)
   * answer late: with a fixed window, lookups under load came back with a fraction of the nodes
   * (1 to 191 of 2,001 in bench:registry's scale case).
   *
   * An owner that has not answered at all within `queryTimeout` is missed, as with Go Micro:
   * nothing tells it from an absent one, and a lookup of a service nobody runs must not wait.
   * Unless the asker knows it exists: while one of the `expected` nodes (see recordKey) has not
   * been answered for, the lookup waits, up to `maxQueryTime`. Under load, owners' first answers
   * came seconds late, and a cache that took "no nodes" for an answer kept it.
   */
  private async query(action: "get" | "list", service: object | null, expected = new Set<string>()): Promise<ServiceRecord[]> {
    const nc = await this.connection.get();
    this.assertConnected();
    const inbox = this.createInbox!();
    const answers: ServiceRecord[] = [];
    const awaited = new Set(expected);
    let lastAnswer = 0;
    let onLastAwaited: (() => void) | undefined;
    const subscription = nc.subscribe(inbox, {
      callback: (err, msg) => {
        lastAnswer = performance.now();
        const answer = err ? undefined : decodeJson(msg.data, parseService);
        if (!answer) return;
        answers.push(answer);
        if (awaited.size === 0) return;
        for (const node of answer.nodes) awaited.delete(recordKey(answer, node.id));
        if (awaited.size === 0) onLastAwaited?.();
      },
    });
    try {
      const started = performance.now();
      nc.publish(this.queryTopic, JSON.stringify({ Action: action, Service: service }), { reply: inbox });
      await sleep(this.queryTimeout);
      for (;;) {
        // Answers already in the socket are read before the window is judged: a process that was
        // not scheduled for a while finds its timer and the answers due at once, and Node runs
        // timers before it reads sockets; without this turn those answers were dropped.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const deadline = started + this.maxQueryTime;
        const wait = (awaited.size > 0 ? deadline : Math.min(lastAnswer + this.queryTimeout, deadline)) - performance.now();
        if (wait <= 0) break;
        await sleep(wait, (wake) => (onLastAwaited = wake));
        onLastAwaited = undefined;
      }
    } finally {
      subscription.unsubscribe();
    }
    this.assertConnected(); // answers from a connection that dropped meanwhile may be incomplete
    return answers;
  }

  private assertConnected(): void {
    if (!this.connected) throw new Error(`nats registry: not connected to ${this.servers.join(", ")}`);
  }

  /**
   * Queries are heard from the first registration on, as Go Micro does: a registry that only asks
   * has nothing to answer, and every query would cost its process a message to read.
   */
  private answerQueries(nc: NatsConnection): void {
    this.querySubscription ??= nc.subscribe(this.queryTopic, { callback: (err, msg) => void (err || this.answer(msg)) });
  }

  /** Answers a query for the nodes this process owns: one `json(Service)` per version, as Go Micro does. */
  private answer(msg: Msg): void {
    if (!msg.reply || this.owned.size === 0) return;
    const query = decodeQuery(msg.data);
    if (query?.action === "get") {
      for (const payload of this.answerFor(query.service?.name ?? "")) msg.respond(payload);
    } else if (query?.action === "list") {
      const now = Date.now();
      const live = this.ownedRecords().filter((record) => record.expiresAt > now);
      for (const service of mergeServices(live.map((record) => record.service))) msg.respond(encodeService(service));
    }
  }

  /**
   * The answer to a `get` of `name`: made once and reused until the nodes change or one expires.
   * Every query reaches every owner, so the one that owns the service answers many.
   */
  private answerFor(name: string): Uint8Array[] {
    const records = this.owned.get(name);
    if (!records) return [];
    const now = Date.now();
    const cached = this.encodedAnswers.get(name);
    if (cached && cached.validUntil > now) return cached.payloads;
    const live = [...records.values()].filter((record) => record.expiresAt > now);
    if (live.length === 0) return [];
    const payloads = mergeServices(live.map((record) => record.service)).map((service) => utf8.encode(encodeService(service)));
    this.encodedAnswers.set(name, { payloads, validUntil: Math.min(...live.map((record) => record.expiresAt)) });
    return payloads;
  }

  private ownedRecords(): NodeRecord[] {
    return [...this.owned.values()].flatMap((records) => [...records.values()]);
  }

  private disown(name: string, key: string): void {
    this.encodedAnswers.delete(name);
    const records = this.owned.get(name);
    records?.delete(key);
    if (records?.size === 0) this.owned.delete(name);
  }

  // --- expiry --------------------------------------------------------------------------------------

  private sweep(nc: NatsConnection): void {
    const now = Date.now();
    for (const record of this.ownedRecords()) {
      if (record.expiresAt > now) continue;
      this.disown(record.service.name, recordKey(record.service, record.service.nodes[0].id));
      this.announce(nc, "delete", record.service);
    }
    if (this.connected) this.heard.sweep(); // silence during an outage says nothing about the nodes
  }
}

// --- helpers -----------------------------------------------------------------------------------------

function decodeJson<T>(data: Uint8Array | string, parse: (value: unknown) => T | undefined): T | undefined {
  try {
    return parse(JSON.parse(typeof data === "string" ? data : utf8Text(data)));
  } catch {
    return undefined;
  }
}

function utf8Text(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
}

const utf8 = new TextEncoder();

/**
 * Queries decoded lately, by their text. A process hosting many services runs a registry for
 * each, on a connection of its own, and every one of them hears every query: the query is
 * decoded once for them all. Decoding is a function of the text alone, so sharing is safe.
 */
const recentQueries = new Map<string, Announcement | undefined>();
const RECENT_QUERIES = 256;
/** A query (`{"Action":"get","Service":{"name":…}}`) is short; longer texts are not kept. */
const MAX_KEPT_QUERY = 1024;

function decodeQuery(data: Uint8Array): Announcement | undefined {
  const text = utf8Text(data);
  if (recentQueries.has(text)) return recentQueries.get(text);
  const query = decodeJson(text, toAnnouncement);
  if (text.length > MAX_KEPT_QUERY) return query;
  recentQueries.set(text, query);
  if (recentQueries.size > RECENT_QUERIES) recentQueries.delete(recentQueries.keys().next().value!);
  return query;
}

function decodeAnnouncement(data: Uint8Array): Announcement | undefined {
  return decodeJson(data, toAnnouncement);
}

function toAnnouncement(value: unknown): Announcement | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { Action, Service, TTL } = value as Record<string, unknown>;
  if (typeof Action !== "string") return undefined;
  const ttl = typeof TTL === "number" && TTL > 0 ? TTL / 1e6 : undefined;
  return { action: Action, service: parseService(Service), ttl };
}

/** Resolves after `ms`, or earlier when the function handed to `wakeEarly` is called. */
function sleep(ms: number, wakeEarly?: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    wakeEarly?.(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
