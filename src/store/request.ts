/**
 * Store calls checked and filled in once, for every implementation: names validated and
 * defaulted, the key checked, the value encoded and measured, the expiry made absolute, the page
 * checked. A driver only ever sees a request that is valid; a bad one throws a 400 before any
 * backend is touched, so nothing is written.
 */
import {
  badStoreInput,
  DEFAULT_DATABASE,
  DEFAULT_TABLE,
  type DeleteOptions,
  type ListOptions,
  NAME_PATTERN,
  type ReadOptions,
  type Scope,
  type WritableRecord,
  type WriteOptions,
} from "./store.js";

/** What every store is configured with. */
export interface StoreDefaults {
  database: string;
  table: string;
  maxValueBytes: number;
}

export interface Location {
  database: string;
  table: string;
}

/** A read or a list: exact key, or prefix/suffix match, one page of it. */
export interface Query extends Location {
  /** Set for an exact-key read. */
  key?: string;
  prefix: string;
  suffix: string;
  offset: number;
  /** 0: no limit. */
  limit: number;
}

export interface WriteRequest extends Location {
  key: string;
  value: Uint8Array;
  /** The metadata as JSON text (an object). */
  metadata: string;
  /** Absolute expiry in ms since the epoch; absent: never. */
  expiresAt?: number;
}

export interface DeleteRequest extends Location {
  key: string;
}

const encoder = new TextEncoder();

export function checkName(what: "database" | "table", name: string): string {
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    throw badStoreInput(`invalid ${what} name ${JSON.stringify(name)}: use 1 to 63 letters, digits, "_" or "-"`);
  }
  return name;
}

/** Checks the defaults a store is constructed with (a bad one fails the constructor). */
export function storeDefaults(options: { database?: string; table?: string; maxValueBytes?: number }, maxValueBytes: number): StoreDefaults {
  const limit = options.maxValueBytes ?? maxValueBytes;
  if (!Number.isInteger(limit) || limit <= 0) throw badStoreInput(`maxValueBytes must be a positive whole number, got ${limit}`);
  return {
    database: checkName("database", options.database || DEFAULT_DATABASE),
    table: checkName("table", options.table || DEFAULT_TABLE),
    maxValueBytes: limit,
  };
}

function locate(scope: Scope | undefined, defaults: StoreDefaults): Location {
  return {
    database: scope?.database === undefined ? defaults.database : checkName("database", scope.database),
    table: scope?.table === undefined ? defaults.table : checkName("table", scope.table),
  };
}

/** Keys are non-empty, well-formed Unicode without NUL (PostgreSQL text cannot hold NUL). */
export function checkKey(key: string): string {
  if (typeof key !== "string" || key === "") throw badStoreInput("the key is empty");
  if (key.includes("\0")) throw badStoreInput("the key contains a NUL character");
  if (hasLoneSurrogate(key)) throw badStoreInput("the key is not well-formed Unicode (a lone surrogate)");
  return key;
}

/** A UTF-16 unit of a surrogate pair without its other half (text that has no UTF-8 form). */
function hasLoneSurrogate(text: string): boolean {
  // The cheap scan first: almost no key has any surrogate at all.
  return SURROGATE.test(text) && LONE_SURROGATE.test(text);
}
const SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /\p{Surrogate}/u;

function checkMatch(what: string, text: string | undefined): string {
  if (text === undefined || text === "") return "";
  if (typeof text !== "string" || text.includes("\0") || hasLoneSurrogate(text)) throw badStoreInput(`invalid ${what} ${JSON.stringify(text)}`);
  return text;
}

function checkCount(what: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (!Number.isSafeInteger(value) || value < 0) throw badStoreInput(`${what} must be a whole number ≥ 0, got ${value}`);
  return value;
}

/** With `prefix` or `suffix` the key is the pattern, and "" matches every key (as in Go Micro). */
export function readQuery(key: string, options: ReadOptions | undefined, defaults: StoreDefaults): Query {
  // Objects built field by field: object spread costs more than the whole check on this path.
  const { database, table } = locate(options, defaults);
  const offset = checkCount("offset", options?.offset);
  const limit = checkCount("limit", options?.limit);
  if (!options?.prefix && !options?.suffix) return { database, table, key: checkKey(key), prefix: "", suffix: "", offset, limit };
  const pattern = checkMatch(options.prefix ? "prefix" : "suffix", key);
  return { database, table, key: undefined, prefix: options.prefix ? pattern : "", suffix: options.suffix ? pattern : "", offset, limit };
}

export function listQuery(options: ListOptions | undefined, defaults: StoreDefaults): Query {
  return {
    ...locate(options, defaults),
    prefix: checkMatch("prefix", options?.prefix),
    suffix: checkMatch("suffix", options?.suffix),
    offset: checkCount("offset", options?.offset),
    limit: checkCount("limit", options?.limit),
  };
}

export function deleteRequest(key: string, options: DeleteOptions | undefined, defaults: StoreDefaults): DeleteRequest {
  const { database, table } = locate(options, defaults);
  return { database, table, key: checkKey(key) };
}

export function writeRequest(record: WritableRecord, options: WriteOptions | undefined, defaults: StoreDefaults, now = Date.now()): WriteRequest {
  if (record === null || typeof record !== "object") throw badStoreInput("the record is not an object");
  const where = locate(options, defaults);
  const key = checkKey(record.key);
  const value = typeof record.value === "string" ? encoder.encode(record.value) : record.value;
  if (!(value instanceof Uint8Array)) throw badStoreInput("the value is neither bytes (Uint8Array) nor a string");
  if (value.byteLength > defaults.maxValueBytes) {
    throw badStoreInput(`the value of ${JSON.stringify(key)} is ${value.byteLength} bytes, over this store's limit of ${defaults.maxValueBytes}`);
  }
  return { database: where.database, table: where.table, key, value, metadata: metadataJson(record.metadata), expiresAt: expiresAt(record, options, now) };
}

function metadataJson(metadata: Record<string, unknown> | undefined): string {
  if (metadata === undefined || metadata === null) return "{}";
  if (typeof metadata !== "object" || Array.isArray(metadata)) throw badStoreInput("the metadata is not an object");
  try {
    return JSON.stringify(metadata);
  } catch (err) {
    throw badStoreInput(`the metadata is not JSON: ${(err as Error).message}`);
  }
}

/** The absolute expiry: the ttl option, else the expiry option, else the record's ttl (Go Micro's precedence). */
function expiresAt(record: WritableRecord, options: WriteOptions | undefined, now: number): number | undefined {
  if (options?.ttl !== undefined) return ttl("ttl", options.ttl, now);
  if (options?.expiry !== undefined) {
    const at = options.expiry instanceof Date ? options.expiry.getTime() : Number.NaN;
    if (!Number.isFinite(at)) throw badStoreInput("the expiry option is not a valid Date");
    return at;
  }
  if (record.expiry !== undefined) return ttl("record expiry", record.expiry, now);
  return undefined;
}

function ttl(what: string, ms: number, now: number): number | undefined {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) throw badStoreInput(`${what} must be a number of ms ≥ 0, got ${ms}`);
  return ms === 0 ? undefined : now + ms;
}

/**
 * Does `key` match the query? With both a prefix and a suffix they must not overlap, as in SQL's
 * `LIKE 'prefix%suffix'`, so every backend agrees.
 */
export function matches(query: Query, key: string): boolean {
  if (query.key !== undefined) return key === query.key;
  return key.length >= query.prefix.length + query.suffix.length && key.startsWith(query.prefix) && key.endsWith(query.suffix);
}

/** One page of an ordered list: `offset` skipped, then at most `limit` (0: all). */
export function page<T>(items: T[], query: Query): T[] {
  return items.slice(query.offset, query.limit > 0 ? query.offset + query.limit : undefined);
}

/**
 * Orders keys by Unicode code point, which is UTF-8 byte order: the order SQLite, PostgreSQL
 * (`COLLATE "C"`) and Redis use. Plain `<` on JS strings compares UTF-16 units, which puts
 * U+10000 and above before U+E000–U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Moves surrogates (U+D800–DFFF) above U+E000–FFFF, so that UTF-16 units compare as code points. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/** Escapes `\`, `%` and `_` for a SQL `LIKE … ESCAPE '\'` pattern. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The LIKE pattern of a prefix/suffix query. */
export function likePattern(query: Query): string {
  return `${escapeLike(query.prefix)}%${escapeLike(query.suffix)}`;
}

/** A Uint8Array view of a driver's Buffer, so values compare equal whatever the backend. */
export function bytes(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Milliseconds left until `expiresAt`, for a read record (absent: never expires). */
export function remaining(expiresAt: number | null | undefined, now = Date.now()): number | undefined {
  return expiresAt === null || expiresAt === undefined ? undefined : Math.max(0, expiresAt - now);
}
