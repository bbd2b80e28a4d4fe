/**
 * The response cache of idempotent calls (Go Micro's `WithCache`): a call made with `cache: ms`
 * is answered from memory while an answer to the same request (service, endpoint, content type
 * and body) is younger than `ms`. Calls for the same request made while one is in flight share
 * its answer. Errors are never cached. The key leaves metadata out: cache only calls whose answer
 * does not depend on who asks.
 */

interface Entry {
  value: unknown;
  expires: number;
}

export interface ResponseCacheOptions {
  /** Answers kept at most; the oldest goes first (default 1,000). */
  maxEntries?: number;
  /** The time in ms (default Date.now). */
  clock?: () => number;
}

export class ResponseCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<unknown>>();
  private readonly maxEntries: number;
  private readonly clock: () => number;
  /** Calls answered from the cache, and calls that went to a server. */
  hits = 0;
  misses = 0;

  constructor(options: ResponseCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 1_000;
    this.clock = options.clock ?? Date.now;
  }

  static key(service: string, endpoint: string, contentType: string, body: unknown): string {
    return `${service}\n${endpoint}\n${contentType}\n${stableJson(body)}`;
  }

  /** The cached answer for `key`, else the shared call in flight, else `call()`'s, kept for `ttl` ms. */
  get(key: string, ttl: number, call: () => Promise<unknown>): Promise<unknown> {
    const entry = this.entries.get(key);
    if (entry) {
      if (entry.expires > this.clock()) {
        this.hits++;
        return Promise.resolve(entry.value);
      }
      this.entries.delete(key);
    }
    const inflight = this.pending.get(key);
    if (inflight) {
      this.hits++;
      return inflight;
    }
    this.misses++;
    const promise = call().then(
      (value) => {
        this.pending.delete(key);
        this.put(key, value, ttl);
        return value;
      },
      (err: unknown) => {
        this.pending.delete(key);
        throw err;
      },
    );
    this.pending.set(key, promise);
    return promise;
  }

  /** Forgets every answer. */
  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private put(key: string, value: unknown, ttl: number): void {
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expires: this.clock() + ttl });
  }
}

/** JSON with object keys sorted, so that `{a, b}` and `{b, a}` are one request. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}
