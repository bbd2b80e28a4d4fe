/**
 * Typed JSON values over any store, so callers never encode by hand: `jsonTable<User>(store,
 * {table: "users"})` then `put("alice", user)` and `get("alice")`. The value is stored as UTF-8
 * JSON bytes, which is what Go Micro's `store.NewRecord` writes, so a Go service reads it too.
 */
import { badStoreInput, type Store, StoreNotFoundError } from "./store.js";

export interface JsonTableOptions {
  database?: string;
  table?: string;
}

export interface JsonTable<T> {
  /** The value, or undefined if the key is absent or expired. */
  get(key: string): Promise<T | undefined>;
  /** Stores `value` as JSON; `ttl` in ms (absent: never expires). */
  put(key: string, value: T, options?: { ttl?: number; metadata?: Record<string, unknown> }): Promise<void>;
  delete(key: string): Promise<void>;
  /** Keys in order, optionally by prefix and paged. */
  keys(options?: { prefix?: string; suffix?: string; offset?: number; limit?: number }): Promise<string[]>;
}

const decoder = new TextDecoder();

export function jsonTable<T>(store: Store, scope: JsonTableOptions = {}): JsonTable<T> {
  const where = { database: scope.database, table: scope.table };
  return {
    async get(key) {
      try {
        const [record] = await store.read(key, where);
        return JSON.parse(decoder.decode(record.value)) as T;
      } catch (err) {
        if (err instanceof StoreNotFoundError) return undefined;
        throw err;
      }
    },
    async put(key, value, options = {}) {
      const json = JSON.stringify(value);
      if (json === undefined) throw badStoreInput(`the value for ${JSON.stringify(key)} has no JSON form`);
      return store.write({ key, value: json, metadata: options.metadata }, { ...where, ttl: options.ttl });
    },
    delete(key) {
      return store.delete(key, where);
    },
    keys(options = {}) {
      return store.list({ ...where, ...options });
    },
  };
}
