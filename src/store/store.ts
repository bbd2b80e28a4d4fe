/**
 * Data storage: Go Micro's `store.Store`. Records (a key, a value of bytes, JSON metadata and an
 * optional expiry) live in a table inside a database, both named by the caller (default `micro` /
 * `micro`, as in Go Micro). Reads by exact key, by prefix or by suffix, ordered by key; a record
 * past its expiry is never returned.
 *
 * Unlike Go Micro: every implementation orders by key (UTF-8 byte order), applies offset before
 * limit (`offset+limit`, never Go's `[offset:limit]` slice), escapes `%` and `_` in SQL patterns,
 * and rejects bad input (empty key, unsafe database/table names, values over the limit) with a
 * 400 error before anything is written.
 */
import { ErrorId, MicroError } from "../errors/errors.js";

/** The error id of the errors stores raise. */
export const STORE_ERROR_ID: string = ErrorId.store;

/** Go Micro's defaults for the database and the table. */
export const DEFAULT_DATABASE = "micro";
export const DEFAULT_TABLE = "micro";

/**
 * Database and table names: 1 to 63 letters, digits, `_` or `-`. Every backend can hold such a
 * name as a file name, a schema or table identifier, or a key segment, without quoting tricks.
 */
export const NAME_PATTERN = /^[A-Za-z0-9_-]{1,63}$/;

/** Default largest value a store accepts (each store takes `maxValueBytes` to change it). */
export const DEFAULT_MAX_VALUE_BYTES = 16 * 1024 * 1024;

/** One stored record, as read. */
export interface StoreRecord {
  key: string;
  value: Uint8Array;
  /** Any JSON object; it is stored as JSON, so it reads back as JSON types. */
  metadata: Record<string, unknown>;
  /** Milliseconds until the record expires (absent: it never does). */
  expiry?: number;
}

/** A record to write. `expiry` is a time to live in ms (Go's `Record.Expiry`); options override it. */
export interface WritableRecord {
  key: string;
  /** Bytes, or a string stored as UTF-8. */
  value: Uint8Array | string;
  metadata?: Record<string, unknown>;
  expiry?: number;
}

export interface Scope {
  /** Default: the store's database (`micro`). */
  database?: string;
  /** Default: the store's table (`micro`). */
  table?: string;
}

export interface Page {
  /** Skip this many matching records first. Default 0. */
  offset?: number;
  /** At most this many records; 0 or absent: all. */
  limit?: number;
}

export interface ReadOptions extends Scope, Page {
  /** The key is a prefix: every record whose key starts with it. */
  prefix?: boolean;
  /** The key is a suffix: every record whose key ends with it (with `prefix`: both). */
  suffix?: boolean;
}

export interface WriteOptions extends Scope {
  /** Time to live in ms; wins over `expiry` and the record's own `expiry` (as in Go Micro). */
  ttl?: number;
  /** Absolute expiry time. */
  expiry?: Date;
}

export type DeleteOptions = Scope;

export interface ListOptions extends Scope, Page {
  /** Only keys starting with this. */
  prefix?: string;
  /** Only keys ending with this. */
  suffix?: string;
}

export interface Store {
  /** The implementation: `memory`, `file`, `postgres`, `redis`, `nats`. */
  readonly name: string;
  /**
   * Records ordered by key. An exact key (neither `prefix` nor `suffix`) that is absent or expired
   * rejects with `StoreNotFoundError` (Go Micro's `ErrNotFound`); a prefix/suffix read that
   * matches nothing resolves to [].
   */
  read(key: string, options?: ReadOptions): Promise<StoreRecord[]>;
  /** Creates or replaces the record. */
  write(record: WritableRecord, options?: WriteOptions): Promise<void>;
  /** Removes the record; removing an absent key is not an error. */
  delete(key: string, options?: DeleteOptions): Promise<void>;
  /** Keys ordered, live records only. */
  list(options?: ListOptions): Promise<string[]>;
  close(): Promise<void>;
}

/** An exact-key read found nothing (404). */
export class StoreNotFoundError extends MicroError {
  constructor(key: string) {
    super(STORE_ERROR_ID, 404, `not found: ${JSON.stringify(key)}`);
  }
}

/** Bad input to a store (400): nothing was written. */
export function badStoreInput(detail: string): MicroError {
  return MicroError.badRequest(STORE_ERROR_ID, detail);
}
