/**
 * PostgreSQL store (`pg`, an optional peer dependency), in Go Micro's layout so a Go Micro service
 * and a ts-micro service share records: the micro database is a schema, the micro table a table,
 * both inside the PostgreSQL database named in the address:
 *
 *   CREATE TABLE <database>.<table> (key text PRIMARY KEY, value bytea, metadata jsonb, expiry timestamptz)
 *
 * Names are sanitised as Go Micro does (`[^a-zA-Z0-9]+` → `_`, so `my-db` is `my_db`) and folded
 * to lower case, as PostgreSQL folds Go's unquoted names. `expiry` is absolute, NULL for never.
 * Prefix and suffix use `LIKE … ESCAPE '\'` with `%`, `_` and `\` in keys escaped; results
 * order by `key COLLATE "C"` (byte order, whatever the database's locale). Expired rows are
 * filtered in SQL and deleted at most once a minute per table, during a write to that table and
 * never in other tables. The SQL sticks to what CockroachDB also runs (jsonb, bytea, timestamptz,
 * ON CONFLICT).
 */
import type Pg from "pg";
import { loadDriver } from "../driver/driver.js";
import { Lazy } from "../driver/lazy.js";
import { MicroError } from "../errors/errors.js";
import {
  bytes,
  deleteRequest,
  type Location,
  likePattern,
  listQuery,
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
  STORE_ERROR_ID,
  type Store,
  StoreNotFoundError,
  type StoreRecord,
  type WritableRecord,
  type WriteOptions,
} from "./store.js";

export interface PostgresStoreOptions {
  /** A postgres URL. Default: `MICRO_STORE_ADDRESS`, else `postgresql://postgres@127.0.0.1:5432/postgres`. */
  address?: string;
  /** Default database, that is schema (`micro`). */
  database?: string;
  /** Default table (`micro`). */
  table?: string;
  /** Largest value accepted, in bytes (default 16 MiB). */
  maxValueBytes?: number;
  /** Connections in the pool (default 10). */
  poolSize?: number;
}

export const DEFAULT_POSTGRES_ADDRESS = "postgresql://postgres@127.0.0.1:5432/postgres";

interface Row {
  key: string;
  value: Buffer | null;
  metadata: Record<string, unknown> | null;
  expiry: Date | null;
}

const REAP_INTERVAL = 60_000;
const COLUMNS = "key, value, metadata, expiry";
/** The SQL condition of a record that has not expired. */
const LIVE = "(expiry IS NULL OR expiry > now())";
/** Errors of concurrent `CREATE … IF NOT EXISTS` racing another creator: try once more. */
const CREATE_RACE = new Set(["23505", "42P06", "42P07"]);
/** Errors that mean the server is unreachable or going away: 503. */
const UNAVAILABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "57P01",
  "57P02",
  "57P03",
  "08000",
  "08003",
  "08006",
]);

/** Go Micro's name sanitising, then PostgreSQL's folding of unquoted names, quoted. */
export function postgresIdentifier(name: string): string {
  return `"${name.replace(/[^a-zA-Z0-9]+/g, "_").toLowerCase()}"`;
}

interface TableState {
  name: string;
  reapedAt: number;
}

export class PostgresStore implements Store {
  readonly name = "postgres";
  private readonly defaults: StoreDefaults;
  private readonly pool: Lazy<Pg.Pool>;
  private readonly tables = new Map<string, Promise<TableState>>();

  constructor(options: PostgresStoreOptions = {}) {
    this.defaults = storeDefaults(options, DEFAULT_MAX_VALUE_BYTES);
    const address = options.address || process.env.MICRO_STORE_ADDRESS || DEFAULT_POSTGRES_ADDRESS;
    this.pool = new Lazy(async () => {
      const pg = await loadDriver<{ default: typeof Pg }>("pg", "postgres store");
      const pool = new pg.default.Pool({ connectionString: address, max: options.poolSize ?? 10 });
      // An idle connection dropped by the server must not crash the process; the next query reconnects.
      pool.on("error", () => {});
      return pool;
    });
  }

  async read(key: string, options?: ReadOptions): Promise<StoreRecord[]> {
    const query = readQuery(key, options, this.defaults);
    const table = await this.table(query);
    const now = Date.now();
    if (query.key !== undefined) {
      const rows = await this.query<Row>(`SELECT ${COLUMNS} FROM ${table.name} WHERE key = $1 AND ${LIVE}`, [query.key]);
      if (rows.length === 0) throw new StoreNotFoundError(query.key);
      return [toRecord(rows[0], now)];
    }
    return (await this.select<Row>(COLUMNS, table, query)).map((row) => toRecord(row, now));
  }

  async write(record: WritableRecord, options?: WriteOptions): Promise<void> {
    const request = writeRequest(record, options, this.defaults);
    const table = await this.table(request);
    await this.query(
      `INSERT INTO ${table.name} (key, value, metadata, expiry) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, metadata = EXCLUDED.metadata, expiry = EXCLUDED.expiry`,
      [
        request.key,
        Buffer.from(request.value.buffer, request.value.byteOffset, request.value.byteLength),
        request.metadata,
        request.expiresAt === undefined ? null : new Date(request.expiresAt),
      ],
    );
    const now = Date.now();
    if (now - table.reapedAt >= REAP_INTERVAL) {
      table.reapedAt = now;
      await this.query(`DELETE FROM ${table.name} WHERE expiry < now()`, []);
    }
  }

  async delete(key: string, options?: DeleteOptions): Promise<void> {
    const request = deleteRequest(key, options, this.defaults);
    const table = await this.table(request);
    await this.query(`DELETE FROM ${table.name} WHERE key = $1`, [request.key]);
  }

  async list(options?: ListOptions): Promise<string[]> {
    const query = listQuery(options, this.defaults);
    const table = await this.table(query);
    return (await this.select<{ key: string }>("key", table, query)).map((row) => row.key);
  }

  async close(): Promise<void> {
    const pool = this.pool.peek();
    this.pool.reset();
    this.tables.clear();
    if (pool) await (await pool.catch(() => undefined))?.end();
  }

  /** One page of a prefix/suffix match; `LIMIT NULL` is no limit. */
  private select<T>(columns: string, table: TableState, query: Query): Promise<T[]> {
    return this.query<T>(`SELECT ${columns} FROM ${table.name} WHERE key LIKE $1 ESCAPE '\\' AND ${LIVE} ORDER BY key COLLATE "C" LIMIT $2 OFFSET $3`, [
      likePattern(query),
      query.limit > 0 ? query.limit : null,
      query.offset,
    ]);
  }

  /** The table, created (with its schema) on first use in this process. */
  private table(where: Location): Promise<TableState> {
    const id = `${where.database}/${where.table}`;
    let table = this.tables.get(id);
    if (!table) {
      table = this.create(where);
      this.tables.set(id, table);
      table.catch(() => this.tables.delete(id));
    }
    return table;
  }

  private async create(where: Location): Promise<TableState> {
    const schema = postgresIdentifier(where.database);
    const name = `${schema}.${postgresIdentifier(where.table)}`;
    const ddl = async () => {
      await this.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`, []);
      await this.query(`CREATE TABLE IF NOT EXISTS ${name} (key text PRIMARY KEY, value bytea, metadata jsonb, expiry timestamp with time zone)`, []);
    };
    try {
      await ddl();
    } catch (err) {
      if (!CREATE_RACE.has((err as { code?: string }).code ?? "")) throw err;
      await ddl();
    }
    return { name, reapedAt: 0 };
  }

  private async query<T>(sql: string, params: unknown[]): Promise<T[]> {
    const pool = await this.pool.get();
    try {
      return (await pool.query(sql, params)).rows as T[];
    } catch (err) {
      const code = (err as { code?: string }).code ?? "";
      if (UNAVAILABLE.has(code)) throw new MicroError(STORE_ERROR_ID, 503, `postgres store unavailable: ${(err as Error).message}`);
      throw err;
    }
  }
}

function toRecord(row: Row, now: number): StoreRecord {
  // Go Micro writes `{}` for no metadata; a NULL (from other writers) reads as {} too.
  const record: StoreRecord = { key: row.key, value: row.value ? bytes(row.value) : new Uint8Array(0), metadata: row.metadata ?? {} };
  const expiry = remaining(row.expiry?.getTime(), now);
  if (expiry !== undefined) record.expiry = expiry;
  return record;
}
