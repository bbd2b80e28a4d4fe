/**
 * Memory store: one process, nothing persisted. Each table keeps its keys in a sorted array
 * (binary search on insert and lookup), so reads and lists come out in key order without
 * sorting; expired records are skipped on read and removed when met.
 */
import {
  bytes,
  compareKeys,
  deleteRequest,
  listQuery,
  matches,
  page,
  type Query,
  readQuery,
  remaining,
  type StoreDefaults,
  storeDefaults,
  writeRequest,
} from "./request.js";
import {
  DEFAULT_MAX_VALUE_BYTES,
  type DeleteOptions,
  type ListOptions,
  type ReadOptions,
  type Store,
  StoreNotFoundError,
  type StoreRecord,
  type WritableRecord,
  type WriteOptions,
} from "./store.js";

export interface MemoryStoreOptions {
  /** Default database (`micro`). */
  database?: string;
  /** Default table (`micro`). */
  table?: string;
  /** Largest value accepted, in bytes (default 16 MiB). */
  maxValueBytes?: number;
}

interface Entry {
  value: Uint8Array;
  metadata: string;
  expiresAt?: number;
}

/** One table: entries by key, and the keys in order. */
class Table {
  readonly entries = new Map<string, Entry>();
  readonly keys: string[] = [];

  set(key: string, entry: Entry): void {
    if (!this.entries.has(key)) this.keys.splice(this.position(key), 0, key);
    this.entries.set(key, entry);
  }

  remove(key: string): void {
    if (!this.entries.delete(key)) return;
    this.keys.splice(this.position(key), 1);
  }

  /** The index of `key` in `keys`, or where it would go. */
  position(key: string): number {
    let low = 0;
    let high = this.keys.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (compareKeys(this.keys[mid], key) < 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Live keys matching the query, in order (expired ones are removed on the way). */
  matching(query: Query, now: number): string[] {
    const found: string[] = [];
    const expired: string[] = [];
    for (let i = query.prefix ? this.position(query.prefix) : 0; i < this.keys.length; i++) {
      const key = this.keys[i];
      if (!key.startsWith(query.prefix)) break;
      if (!matches(query, key)) continue;
      if (isExpired(this.entries.get(key) as Entry, now)) expired.push(key);
      else found.push(key);
    }
    for (const key of expired) this.remove(key);
    return page(found, query);
  }
}

function isExpired(entry: Entry, now: number): boolean {
  return entry.expiresAt !== undefined && entry.expiresAt <= now;
}

export class MemoryStore implements Store {
  readonly name = "memory";
  private readonly defaults: StoreDefaults;
  private readonly tables = new Map<string, Table>();

  constructor(options: MemoryStoreOptions = {}) {
    this.defaults = storeDefaults(options, DEFAULT_MAX_VALUE_BYTES);
  }

  async read(key: string, options?: ReadOptions): Promise<StoreRecord[]> {
    const query = readQuery(key, options, this.defaults);
    const table = this.table(query);
    const now = Date.now();
    if (query.key !== undefined) {
      const entry = table.entries.get(key);
      if (!entry || isExpired(entry, now)) throw new StoreNotFoundError(key);
      return [toRecord(key, entry, now)];
    }
    return table.matching(query, now).map((k) => toRecord(k, table.entries.get(k) as Entry, now));
  }

  async write(record: WritableRecord, options?: WriteOptions): Promise<void> {
    const request = writeRequest(record, options, this.defaults);
    // A copy, so that the caller changing its array later does not change the stored value.
    this.table(request).set(request.key, { value: request.value.slice(), metadata: request.metadata, expiresAt: request.expiresAt });
  }

  async delete(key: string, options?: DeleteOptions): Promise<void> {
    const request = deleteRequest(key, options, this.defaults);
    this.tables.get(tableId(request))?.remove(request.key);
  }

  async list(options?: ListOptions): Promise<string[]> {
    const query = listQuery(options, this.defaults);
    return this.table(query).matching(query, Date.now());
  }

  async close(): Promise<void> {
    this.tables.clear();
  }

  private table(where: { database: string; table: string }): Table {
    const id = tableId(where);
    let table = this.tables.get(id);
    if (!table) {
      table = new Table();
      this.tables.set(id, table);
    }
    return table;
  }
}

/** Names cannot contain "/", so this id is unambiguous. */
function tableId(where: { database: string; table: string }): string {
  return `${where.database}/${where.table}`;
}

function toRecord(key: string, entry: Entry, now: number): StoreRecord {
  const record: StoreRecord = { key, value: bytes(entry.value.slice()), metadata: JSON.parse(entry.metadata) };
  const expiry = remaining(entry.expiresAt, now);
  if (expiry !== undefined) record.expiry = expiry;
  return record;
}
