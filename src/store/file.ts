/**
 * The file store, the default: SQLite through `better-sqlite3` (an optional peer dependency).
 * One database file per micro database, `<dir>/<database>.db`, one SQL table per micro table:
 *
 *   CREATE TABLE "<table>" (key TEXT PRIMARY KEY, value BLOB NOT NULL, metadata TEXT NOT NULL, expiry INTEGER)
 *
 * `expiry` is ms since the epoch (NULL: never). The file is in WAL mode with a busy timeout, so
 * several processes on one host read and write one store at once (SQLite serialises writers;
 * readers never block). Keys order by SQLite's BINARY collation, which is UTF-8 byte order.
 * Expired rows are filtered in every query and deleted lazily, at most once a minute per table,
 * during a write to that table.
 *
 * The directory: the `dir` option, else `MICRO_STORE_ADDRESS`, else `$XDG_DATA_HOME/micro/store`,
 * else `~/.local/share/micro/store`; created with mode 0700.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type BetterSqlite3 from "better-sqlite3";
import { loadDriver } from "../driver/driver.js";
import {
  bytes,
  deleteRequest,
  type Location,
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
  type Store,
  StoreNotFoundError,
  type StoreRecord,
  type WritableRecord,
  type WriteOptions,
} from "./store.js";

export interface FileStoreOptions {
  /** The directory holding one `<database>.db` file per database. */
  dir?: string;
  /** Default database (`micro`). */
  database?: string;
  /** Default table (`micro`). */
  table?: string;
  /** Largest value accepted, in bytes (default 16 MiB). */
  maxValueBytes?: number;
  /** How long a write waits for another process's write to finish, in ms (default 5000). */
  busyTimeout?: number;
}

type Sqlite = typeof BetterSqlite3;
type Database = BetterSqlite3.Database;

interface Row {
  key: string;
  value: Buffer;
  metadata: string;
  expiry: number | null;
}

/** How often, at most, one table's expired rows are deleted. */
const REAP_INTERVAL = 60_000;

/** The default directory: the user's data directory, as XDG says. */
export function defaultStoreDir(): string {
  if (process.env.MICRO_STORE_ADDRESS) return process.env.MICRO_STORE_ADDRESS;
  const data = process.env.XDG_DATA_HOME || path.join(os.homedir(), ".local", "share");
  return path.join(data, "micro", "store");
}

/** The prepared statements of one table. */
interface TableStatements {
  readOne: BetterSqlite3.Statement<[string, number], Row>;
  upsert: BetterSqlite3.Statement<[string, Buffer, string, number | null]>;
  remove: BetterSqlite3.Statement<[string]>;
  reap: BetterSqlite3.Statement<[number]>;
  reapedAt: number;
}

export class FileStore implements Store {
  readonly name = "file";
  readonly dir: string;
  private readonly defaults: StoreDefaults;
  private driver: Promise<Sqlite> | undefined;
  private readonly databases = new Map<string, Database>();
  private readonly tables = new Map<string, TableStatements>();
  /** Prefix/suffix selects by SQL text, which names the database in a comment so that each file has its own. */
  private readonly selects = new Map<string, BetterSqlite3.Statement>();
  private closed = false;
  private lastTable: (Location & { statements: TableStatements }) | undefined;

  constructor(private readonly options: FileStoreOptions = {}) {
    this.defaults = storeDefaults(options, DEFAULT_MAX_VALUE_BYTES);
    this.dir = options.dir ?? defaultStoreDir();
  }

  async read(key: string, options?: ReadOptions): Promise<StoreRecord[]> {
    const query = readQuery(key, options, this.defaults);
    const table = this.known(query) ?? (await this.table(query));
    const now = Date.now();
    if (query.key !== undefined) {
      const row = table.readOne.get(query.key, now);
      if (!row) throw new StoreNotFoundError(query.key);
      return [toRecord(row, now)];
    }
    return (this.select(query, "key, value, metadata, expiry", now) as Row[]).map((row) => toRecord(row, now));
  }

  async write(record: WritableRecord, options?: WriteOptions): Promise<void> {
    const request = writeRequest(record, options, this.defaults);
    const table = this.known(request) ?? (await this.table(request));
    table.upsert.run(
      request.key,
      Buffer.from(request.value.buffer, request.value.byteOffset, request.value.byteLength),
      request.metadata,
      request.expiresAt ?? null,
    );
    const now = Date.now();
    if (now - table.reapedAt >= REAP_INTERVAL) {
      table.reapedAt = now;
      table.reap.run(now);
    }
  }

  async delete(key: string, options?: DeleteOptions): Promise<void> {
    const request = deleteRequest(key, options, this.defaults);
    (await this.table(request)).remove.run(request.key);
  }

  async list(options?: ListOptions): Promise<string[]> {
    const query = listQuery(options, this.defaults);
    await this.table(query);
    return (this.select(query, "key", Date.now()) as { key: string }[]).map((row) => row.key);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.lastTable = undefined;
    this.tables.clear();
    this.selects.clear();
    for (const db of this.databases.values()) db.close();
    this.databases.clear();
  }

  /**
   * A prefix/suffix page. Prefix and suffix compare with substr() rather than LIKE, because
   * SQLite's LIKE ignores ASCII case; lengths are in characters, as SQLite's substr counts them.
   */
  private select(query: Query, columns: string, now: number): unknown[] {
    const db = this.databases.get(query.database) as Database;
    const where = ["(expiry IS NULL OR expiry > ?)"];
    const params: (string | number)[] = [now];
    if (query.prefix) {
      where.push("substr(key, 1, ?) = ?");
      params.push(characters(query.prefix), query.prefix);
    }
    if (query.suffix) {
      where.push("length(key) >= ? AND substr(key, -?) = ?");
      params.push(characters(query.prefix) + characters(query.suffix), characters(query.suffix), query.suffix);
    }
    params.push(query.limit > 0 ? query.limit : -1, query.offset);
    const sql = `/* ${query.database} */ SELECT ${columns} FROM ${quote(query.table)} WHERE ${where.join(" AND ")} ORDER BY key LIMIT ? OFFSET ?`;
    let statement = this.selects.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      this.selects.set(sql, statement);
    }
    return statement.all(...params);
  }

  /**
   * The statements of a table already open, without an await (the extra promise and tick cost
   * about as much as the statement's own JavaScript): the last one used, else by id.
   */
  private known(where: Location): TableStatements | undefined {
    const last = this.lastTable;
    if (last && last.database === where.database && last.table === where.table) return last.statements;
    const statements = this.tables.get(tableId(where));
    if (statements) this.lastTable = { database: where.database, table: where.table, statements };
    return statements;
  }

  /** The table's statements, creating the database file and the table on first use. */
  private async table(where: Location): Promise<TableStatements> {
    const id = tableId(where);
    const known = this.tables.get(id);
    if (known) return known;
    const db = await this.database(where.database);
    const name = quote(where.table);
    db.exec(`CREATE TABLE IF NOT EXISTS ${name} (key TEXT PRIMARY KEY, value BLOB NOT NULL, metadata TEXT NOT NULL, expiry INTEGER)`);
    const statements: TableStatements = {
      readOne: db.prepare(`SELECT key, value, metadata, expiry FROM ${name} WHERE key = ? AND (expiry IS NULL OR expiry > ?)`),
      upsert: db.prepare(
        `INSERT INTO ${name} (key, value, metadata, expiry) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, metadata = excluded.metadata, expiry = excluded.expiry`,
      ),
      remove: db.prepare(`DELETE FROM ${name} WHERE key = ?`),
      reap: db.prepare(`DELETE FROM ${name} WHERE expiry <= ?`),
      reapedAt: 0,
    };
    this.tables.set(id, statements);
    return statements;
  }

  private async database(name: string): Promise<Database> {
    const known = this.databases.get(name);
    if (known) return known;
    this.driver ??= loadDriver<{ default: Sqlite }>("better-sqlite3", "file store").then((m) => m.default);
    const Sqlite = await this.driver;
    // Another call may have opened it while the driver loaded.
    const opened = this.databases.get(name);
    if (opened) return opened;
    if (this.closed) throw new Error("the file store is closed");
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const db = new Sqlite(path.join(this.dir, `${name}.db`), { timeout: this.options.busyTimeout ?? 5_000 });
    db.pragma("journal_mode = WAL");
    // WAL with synchronous=NORMAL is durable across process crashes (not power loss) and much faster than FULL.
    db.pragma("synchronous = NORMAL");
    this.databases.set(name, db);
    return db;
  }
}

/** Names cannot contain "/", so this id is unambiguous. */
function tableId(where: Location): string {
  return `${where.database}/${where.table}`;
}

/** A safe identifier: names match NAME_PATTERN, so quoting is enough. */
function quote(name: string): string {
  return `"${name}"`;
}

/** Length in Unicode code points, as SQLite's length() and substr() count text. */
function characters(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function toRecord(row: Row, now: number): StoreRecord {
  const record: StoreRecord = { key: row.key, value: bytes(row.value), metadata: JSON.parse(row.metadata) };
  const expiry = remaining(row.expiry, now);
  if (expiry !== undefined) record.expiry = expiry;
  return record;
}
