/**
 * The two embedded engines the file store could be built on, bare, each holding what the store
 * keeps per record (value, metadata, expiry) and set up for the same guarantees: several processes
 * on one file, durable across a process crash.
 *
 * - `sqlite`: better-sqlite3 with the file store's own table, statements and pragmas (WAL,
 *   synchronous=NORMAL: durable across a process crash, no fsync per commit; busy timeout 5 s);
 *   one autocommit statement per write. `sqlite-full`: the same with synchronous=FULL (an fsync
 *   per commit, durable across power loss).
 * - `lmdb`: the `lmdb` package with its defaults (msgpack values, asynchronous batched commits,
 *   overlappingSync: an fsync per commit, off the writer lock); a write resolves when its
 *   transaction is committed. `lmdb-nosync`: noSync, no fsync, as sqlite's NORMAL.
 */
import fs from "node:fs";
import path from "node:path";

export interface Engine {
  read(key: string): unknown;
  /** `metadata`: the record's metadata as JSON (default a fixed small object). */
  write(key: string, value: Buffer, metadata?: string): Promise<unknown> | unknown;
  count(): number;
  close(): Promise<void>;
}

const METADATA = '{"app":"bench"}';

export const ENGINES = ["sqlite", "sqlite-full", "lmdb", "lmdb-nosync"] as const;
export type EngineKind = (typeof ENGINES)[number];

export async function openEngine(kind: EngineKind, file: string): Promise<Engine> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (kind === "sqlite" || kind === "sqlite-full") {
    const { default: Sqlite } = await import("better-sqlite3");
    const db = new Sqlite(file, { timeout: 5_000 });
    db.pragma("journal_mode = WAL");
    db.pragma(kind === "sqlite" ? "synchronous = NORMAL" : "synchronous = FULL");
    db.exec('CREATE TABLE IF NOT EXISTS "bench" (key TEXT PRIMARY KEY, value BLOB NOT NULL, metadata TEXT NOT NULL, expiry INTEGER)');
    const readOne = db.prepare('SELECT key, value, metadata, expiry FROM "bench" WHERE key = ? AND (expiry IS NULL OR expiry > ?)');
    const upsert = db.prepare(
      'INSERT INTO "bench" (key, value, metadata, expiry) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, metadata = excluded.metadata, expiry = excluded.expiry',
    );
    const count = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM "bench"');
    return {
      read: (key) => readOne.get(key, Date.now()),
      write: (key, value, metadata = METADATA) => upsert.run(key, value, metadata, null),
      count: () => count.get()!.n,
      close: async () => {
        db.close();
      },
    };
  }
  const { open } = await import("lmdb");
  const db = open({ path: file, noSync: kind === "lmdb-nosync" });
  return {
    read: (key) => db.get(key),
    write: (key, value, metadata = METADATA) => db.put(key, { value, metadata, expiry: null }),
    count: () => db.getCount(),
    close: () => db.close(),
  };
}
