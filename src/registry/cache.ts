/**
 * A watch-driven cache in front of any registry, so that a call never waits on the registry
 * (Go Micro's registry/cache, with the same stale-on-error behaviour).
 *
 * The first lookup of a service starts a watch for it, then fetches it; from then on the watch's
 * events keep the entry exact and lookups do no registry I/O at all. If the watch ends, the entry
 * is trusted for `ttl` more, then refreshed on the next lookup; a failing refresh serves the stale
 * entry rather than failing calls to nodes that are probably still there. The watch is restarted
 * with exponential backoff.
 *
 * One watch per service, not one global watch: the backends filter at the source (an etcd key
 * prefix, a NATS subject), so a client hears only about services it calls, and a broken watch
 * degrades only the one entry it feeds.
 */
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import { cloneService } from "./records.js";
import type { RegisterOptions, Registry, ServiceRecord, WatchEvent, Watcher, WatchOptions } from "./registry.js";

export interface CacheRegistryOptions {
  /** Milliseconds an entry is trusted without a live watch. Default: 60 s (Go Micro's). */
  ttl?: number;
  /** After a failed refresh, milliseconds to serve stale data before trying again. Default: 5 s. */
  retryInterval?: number;
  /** Upper bound on the delay between watch restarts, in milliseconds. Default: 30 s. */
  maxBackoff?: number;
  /** Whether close() also closes the wrapped registry. Default: false. */
  closeInner?: boolean;
  /** Where failures are logged. Default: the process logger. */
  logger?: Logger;
}

interface Entry {
  name: string;
  /** Deep-frozen; replaced (never mutated) on every change. undefined until the first fetch succeeds. */
  services: ServiceRecord[] | undefined;
  watcher: Watcher | undefined;
  /** The current watch was running before the data was fetched, so the data is exact. */
  synced: boolean;
  /** When data that is not synced must be refreshed. */
  expiresAt: number;
  /** The fetch in flight, shared by concurrent lookups. */
  fetching: Promise<ServiceRecord[]> | undefined;
  /** Events that arrived during the fetch; replayed onto its result, which may predate them. */
  pending: WatchEvent[] | undefined;
  /** Consecutive watch failures, for backoff. */
  failures: number;
  restartTimer: NodeJS.Timeout | undefined;
  /** A stale-data warning was logged since the last successful fetch. */
  warned: boolean;
  /** The last lookup said "no nodes" while nodes were known, and was not believed yet. */
  doubtedEmpty: boolean;
}

export class CacheRegistry implements Registry {
  readonly name: string;
  /** Lookups answered from the cache (hits) and sent on to the registry (misses), for metrics. */
  readonly lookups = { hits: 0, misses: 0 };
  private readonly entries = new Map<string, Entry>();
  private readonly ttl: number;
  private readonly retryInterval: number;
  private readonly maxBackoff: number;
  private readonly closeInner: boolean;
  private readonly log: Logger;
  private closed = false;

  constructor(
    private readonly inner: Registry,
    options: CacheRegistryOptions = {},
  ) {
    this.name = inner.name;
    this.ttl = options.ttl ?? 60_000;
    this.retryInterval = options.retryInterval ?? 5_000;
    this.maxBackoff = options.maxBackoff ?? 30_000;
    this.closeInner = options.closeInner ?? false;
    this.log = options.logger ?? defaultLogger();
  }

  /**
   * The cached versions of a service, or undefined when the cache can't vouch for them (never
   * looked up, or expired): then call getService(). No I/O and no allocation, for the call path.
   * The array and everything in it are frozen and shared: read them, don't modify them. A change
   * produces a new array, so callers may memoize on its identity.
   */
  getCached(name: string): ServiceRecord[] | undefined {
    const entry = this.entries.get(name);
    if (!entry?.services) return undefined;
    if (!((entry.watcher && entry.synced) || Date.now() < entry.expiresAt)) return undefined;
    this.lookups.hits++;
    return entry.services;
  }

  async getService(name: string): Promise<ServiceRecord[]> {
    if (this.closed) return this.inner.getService(name);
    let services = this.getCached(name);
    if (!services) {
      this.lookups.misses++;
      services = await this.refresh(name);
    }
    return services.map(cloneService);
  }

  async register(service: ServiceRecord, options?: RegisterOptions): Promise<void> {
    await this.inner.register(service, options);
    // Apply our own change now, so this process reads its writes; the watch event that follows
    // is idempotent.
    this.applyLocal({ action: "update", service: cloneService(service) });
  }

  async deregister(service: ServiceRecord): Promise<void> {
    await this.inner.deregister(service);
    this.applyLocal({ action: "delete", service: cloneService(service) });
  }

  listServices(): Promise<ServiceRecord[]> {
    return this.inner.listServices();
  }

  watch(options?: WatchOptions): Watcher {
    return this.inner.watch(options);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.entries.values()) this.forget(entry);
    this.entries.clear();
    if (this.closeInner) await this.inner.close();
  }

  // --- fetching --------------------------------------------------------------------------------

  /** Fetches a service, sharing one registry call among concurrent callers (singleflight). */
  private refresh(name: string): Promise<ServiceRecord[]> {
    const entry = this.entries.get(name) ?? this.newEntry(name);
    entry.fetching ??= this.fetch(entry).finally(() => {
      entry.fetching = undefined;
    });
    return entry.fetching;
  }

  private newEntry(name: string): Entry {
    const entry: Entry = {
      name,
      services: undefined,
      watcher: undefined,
      synced: false,
      expiresAt: 0,
      fetching: undefined,
      pending: undefined,
      failures: 0,
      restartTimer: undefined,
      warned: false,
      doubtedEmpty: false,
    };
    this.entries.set(name, entry);
    return entry;
  }

  private async fetch(entry: Entry): Promise<ServiceRecord[]> {
    // Watch first, fetch second: an event between the two is queued, not lost.
    if (!entry.watcher && !entry.restartTimer) this.startWatch(entry);
    const watcher = entry.watcher;
    entry.pending = [];
    try {
      const fetched = await this.inner.getService(entry.name);
      if (fetched.length === 0 && hasNodes(entry.services) && !entry.doubtedEmpty) {
        // A registry that is just back (NATS after a reconnect, before the nodes' owners have
        // announced them again) or slow to answer (a query window that closed early) can say
        // "no nodes" for a service whose nodes are alive. Such an answer is served stale once
        // and believed when the next lookup, `retryInterval` later, says the same; nodes that
        // really leave are removed by their watch events or TTL, not by this answer.
        entry.doubtedEmpty = true;
        return this.fetchFailed(entry, new Error("the registry answered no nodes for a service that had some"));
      }
      entry.doubtedEmpty = false;
      // Copied before freezing: the inner registry's objects are not ours to freeze.
      let services = deepFreeze(fetched.map(cloneService));
      for (const event of entry.pending) services = applyEvent(services, event);
      entry.services = services;
      entry.synced = watcher !== undefined && entry.watcher === watcher;
      if (entry.synced) entry.failures = 0;
      entry.expiresAt = Date.now() + this.ttl;
      entry.warned = false;
      return services;
    } catch (err) {
      return this.fetchFailed(entry, err);
    } finally {
      entry.pending = undefined;
    }
  }

  /** Serves stale data if there is any (a registry outage should not fail calls), else throws. */
  private fetchFailed(entry: Entry, err: unknown): ServiceRecord[] {
    if (!entry.services || this.closed) {
      this.forget(entry);
      this.entries.delete(entry.name);
      throw err;
    }
    let services = entry.services;
    for (const event of entry.pending ?? []) services = applyEvent(services, event);
    entry.services = services;
    entry.expiresAt = Date.now() + this.retryInterval;
    if (!entry.warned) {
      entry.warned = true;
      this.log.warn("registry: lookup failed, serving cached nodes", { service: entry.name, error: String(err) });
    }
    return services;
  }

  // --- watching --------------------------------------------------------------------------------

  private startWatch(entry: Entry): void {
    let watcher: Watcher;
    try {
      watcher = this.inner.watch({ service: entry.name });
    } catch (err) {
      this.watchEnded(entry, err);
      return;
    }
    entry.watcher = watcher;
    entry.synced = false;
    void this.consume(entry, watcher);
  }

  private async consume(entry: Entry, watcher: Watcher): Promise<void> {
    let failure: unknown;
    try {
      for await (const event of watcher) this.onEvent(entry, event);
    } catch (err) {
      failure = err;
    }
    if (entry.watcher === watcher) this.watchEnded(entry, failure);
  }

  private watchEnded(entry: Entry, failure: unknown): void {
    // The data was exact until now; from here on it ages like an unwatched entry.
    if (entry.synced) entry.expiresAt = Date.now() + this.ttl;
    entry.watcher = undefined;
    entry.synced = false;
    if (this.closed || this.entries.get(entry.name) !== entry) return;
    const delay = Math.min(this.maxBackoff, 100 * 2 ** entry.failures) * (0.5 + Math.random() / 2);
    entry.failures++;
    this.log.debug("registry: watch ended, restarting", { service: entry.name, delay, error: failure && String(failure) });
    entry.restartTimer = setTimeout(() => this.restartWatch(entry), delay).unref();
  }

  private restartWatch(entry: Entry): void {
    entry.restartTimer = undefined;
    if (this.closed || this.entries.get(entry.name) !== entry) return;
    this.startWatch(entry);
    // Events were missed while the watch was down: fetch again to resynchronise.
    if (entry.watcher && !entry.fetching) this.refresh(entry.name).catch(() => {});
  }

  private onEvent(entry: Entry, event: WatchEvent): void {
    if (event.service.name !== entry.name) return;
    if (entry.pending) entry.pending.push(event);
    else if (entry.services) entry.services = applyEvent(entry.services, event);
  }

  private applyLocal(event: WatchEvent): void {
    const entry = this.entries.get(event.service.name);
    if (entry) this.onEvent(entry, event);
  }

  /** Stops an entry's watch and timer. */
  private forget(entry: Entry): void {
    clearTimeout(entry.restartTimer);
    entry.restartTimer = undefined;
    const watcher = entry.watcher;
    entry.watcher = undefined;
    watcher?.stop();
  }
}

/**
 * The versions after one event, as a new frozen array (the old one may still be in a caller's
 * hands). create/update merge the event's nodes in by id and take its endpoints and metadata;
 * delete removes its nodes and drops a version left with none.
 */
function applyEvent(services: ServiceRecord[], event: WatchEvent): ServiceRecord[] {
  const { service } = event;
  const index = services.findIndex((s) => s.version === service.version);
  const current = services[index];
  if (event.action === "delete") {
    if (!current) return services;
    const gone = new Set(service.nodes.map((node) => node.id));
    const nodes = current.nodes.filter((node) => !gone.has(node.id));
    if (nodes.length === current.nodes.length) return services;
    if (nodes.length === 0) return deepFreeze(services.filter((_, i) => i !== index));
    return deepFreeze(services.map((s, i) => (i === index ? { ...current, nodes } : s)));
  }
  const nodes = new Map((current?.nodes ?? []).map((node) => [node.id, node]));
  for (const node of service.nodes) nodes.set(node.id, node);
  const merged: ServiceRecord = { ...service, nodes: [...nodes.values()] };
  if (!current) return deepFreeze([...services, merged]);
  return deepFreeze(services.map((s, i) => (i === index ? merged : s)));
}

/** Freezes a value and everything reachable from it; already-frozen parts are skipped. */
function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
  return value;
}

function hasNodes(services: readonly ServiceRecord[] | undefined): boolean {
  return services?.some((service) => service.nodes.length > 0) === true;
}
