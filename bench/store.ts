/**
 * `npm run bench:store`: what each store costs over its bare driver, and why the file store is
 * built on SQLite.
 *
 * 1. Exact-key reads and upserts (1,000 keys, 100-byte values, small metadata) in closed loops at
 *    concurrency 1 and 64, for each store next to its driver doing the same statements in the same
 *    run, given the same record (so it serialises the metadata object too; reads return the
 *    driver's raw rows, undecoded): memory (a bare Map), file (better-sqlite3), postgres (pg, 127.0.0.1:5432 db `test`),
 *    redis (ioredis, 127.0.0.1:6379), nats (@nats-io/kv, 127.0.0.1:4222). Store and driver run in alternating short slices, so load from elsewhere weighs on both alike. Target:
 *    every store ≥ 0.8× its driver.
 * 2. The file store's engine: bare better-sqlite3 against bare lmdb with the same records, in one
 *    process and with 4 processes writing one file at once.
 *
 * `--quick` halves the measuring time.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FileStore } from "../src/store/file.js";
import { MemoryStore } from "../src/store/memory.js";
import { NatsStore } from "../src/store/nats.js";
import { PostgresStore } from "../src/store/postgres.js";
import { RedisStore } from "../src/store/redis.js";
import type { Store } from "../src/store/store.js";
import { canConnect } from "../test/setup/servers.js";
import { ENGINES, type Engine, type EngineKind, openEngine } from "./engines.js";
import { benchDir } from "./harness.js";

const quick = process.argv.includes("--quick");
/** Each store/driver pair: SLICES alternating slices of SLICE seconds each. */
const SLICES = quick ? 4 : 8;
const SLICE = 0.12;
/** Each engine figure: this long. */
const SECONDS = quick ? 0.2 : 0.35;
const WARMUP = 0.1;
const KEYS = 1_000;
const VALUE = Buffer.alloc(100, 120);
const METADATA = { app: "bench" };
const POSTGRES = process.env.BENCH_POSTGRES || "postgresql://postgres@127.0.0.1:5432/test";
const run = `${process.pid}`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-bench-store-"));
const key = (i: number): string => `key-${String(i % KEYS).padStart(4, "0")}`;

/** What is measured: one exact-key read or one upsert. */
interface Side {
  read(key: string): unknown;
  write(key: string): unknown;
  close(): Promise<void>;
}

interface Contender {
  name: string;
  driver: string;
  /** Whether the 0.8× target applies (a Map is a floor, not a driver doing the same work). */
  target: boolean;
  /** Why it cannot run here, if it cannot. */
  missing?: () => Promise<string | undefined>;
  store: () => Promise<Side>;
  bare: () => Promise<Side>;
}

/** Runs `op` in `concurrency` closed loops until `until` (performance.now()); how many completed. */
async function closedLoops(op: (i: number) => unknown, concurrency: number, until: number): Promise<number> {
  let n = 0;
  let done = 0;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (performance.now() < until) {
      try {
        await op(n++);
      } catch (err) {
        firstError ??= err;
      }
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (firstError !== undefined) throw new Error(`an operation failed: ${String(firstError)}`);
  return done;
}

/** Ops per second of `op` in `concurrency` closed loops for `seconds`, after a warm-up. */
async function measure(op: (i: number) => unknown, concurrency: number, seconds: number): Promise<number> {
  await closedLoops(op, concurrency, performance.now() + WARMUP * 1_000);
  const started = performance.now();
  const done = await closedLoops(op, concurrency, started + seconds * 1_000);
  return done / ((performance.now() - started) / 1_000);
}

/** One contender's totals over its slices. */
interface Tally {
  opsPerSecond: number;
  /** This process's CPU time per op in µs: what the contender costs here, whatever the machine's load. */
  cpuMicros: number;
}

/**
 * Two contenders measured in alternating slices (whose order alternates too), so a burst of load
 * from elsewhere on the machine weighs on both alike.
 */
async function measurePair(a: (i: number) => unknown, b: (i: number) => unknown, concurrency: number): Promise<[Tally, Tally]> {
  const sides = [
    { op: a, done: 0, ms: 0, cpu: 0 },
    { op: b, done: 0, ms: 0, cpu: 0 },
  ];
  for (const side of sides) await closedLoops(side.op, concurrency, performance.now() + WARMUP * 1_000);
  for (let slice = 0; slice < SLICES; slice++) {
    for (const side of slice % 2 === 0 ? sides : [...sides].reverse()) {
      const started = performance.now();
      const cpu = process.cpuUsage();
      side.done += await closedLoops(side.op, concurrency, started + SLICE * 1_000);
      const used = process.cpuUsage(cpu);
      side.cpu += used.user + used.system;
      side.ms += performance.now() - started;
    }
  }
  const tally = (side: (typeof sides)[number]): Tally => ({ opsPerSecond: (side.done / side.ms) * 1_000, cpuMicros: side.cpu / side.done });
  return [tally(sides[0]), tally(sides[1])];
}

function storeSide(store: Store): Side {
  return {
    read: (k) => store.read(k),
    write: (k) => store.write({ key: k, value: VALUE, metadata: METADATA }),
    close: () => store.close(),
  };
}

const contenders: Contender[] = [
  {
    name: "memory",
    driver: "Map: a floor, no target",
    target: false,
    store: async () => storeSide(new MemoryStore({ database: "bench" })),
    bare: async () => {
      const map = new Map<string, { value: Buffer; metadata: string; expiry: number | undefined }>();
      return {
        read: async (k) => map.get(k),
        write: async (k) => map.set(k, { value: VALUE, metadata: JSON.stringify(METADATA), expiry: undefined }),
        close: async () => {},
      };
    },
  },
  {
    name: "file",
    target: true,
    driver: "better-sqlite3",
    store: async () => storeSide(new FileStore({ dir: path.join(tmp, "store"), database: "bench" })),
    bare: async () => {
      const engine = await openEngine("sqlite", path.join(tmp, "bare", "bench.db"));
      return { read: async (k) => engine.read(k), write: async (k) => engine.write(k, VALUE, JSON.stringify(METADATA)), close: () => engine.close() };
    },
  },
  {
    name: "postgres",
    target: true,
    driver: "pg",
    missing: async () => ((await canConnect("127.0.0.1", 5432)) ? undefined : "no PostgreSQL on 127.0.0.1:5432 (service postgresql start)"),
    store: async () => storeSide(new PostgresStore({ address: POSTGRES, database: `bench_store_${run}` })),
    bare: async () => {
      const { default: pg } = await import("pg");
      const pool = new pg.Pool({ connectionString: POSTGRES, max: 10 });
      const table = `bench_bare_${run}.micro`;
      await pool.query(`CREATE SCHEMA IF NOT EXISTS bench_bare_${run}`);
      await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (key text PRIMARY KEY, value bytea, metadata jsonb, expiry timestamp with time zone)`);
      return {
        read: (k) => pool.query(`SELECT key, value, metadata, expiry FROM ${table} WHERE key = $1 AND (expiry IS NULL OR expiry > now())`, [k]),
        write: (k) =>
          pool.query(
            `INSERT INTO ${table} (key, value, metadata, expiry) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, metadata = EXCLUDED.metadata, expiry = EXCLUDED.expiry`,
            [k, VALUE, JSON.stringify(METADATA), null],
          ),
        close: async () => {
          await pool.query(`DROP SCHEMA IF EXISTS bench_bare_${run} CASCADE`);
          await pool.query(`DROP SCHEMA IF EXISTS bench_store_${run} CASCADE`);
          await pool.end();
        },
      };
    },
  },
  {
    name: "redis",
    target: true,
    driver: "ioredis",
    missing: async () => ((await canConnect("127.0.0.1", 6379)) ? undefined : "no Redis on 127.0.0.1:6379 (redis-server --daemonize yes)"),
    store: async () => storeSide(new RedisStore({ address: "127.0.0.1:6379", database: `bench-store-${run}` })),
    bare: async () => {
      const { Redis } = await import("ioredis");
      const redis = new Redis("redis://127.0.0.1:6379");
      const where = `bench-bare-${run}/micro`;
      return {
        // The redis store's own commands: a record is a hash, indexed in a sorted set.
        read: (k) => redis.pipeline().hmgetBuffer(`${where}/${k}`, "value", "metadata").pttl(`${where}/${k}`).exec(),
        write: (k) => redis.multi().del(`${where}/${k}`).hset(`${where}/${k}`, "value", VALUE, "metadata", JSON.stringify(METADATA)).zadd(where, 0, k).exec(),
        close: async () => {
          for (const prefix of [`bench-bare-${run}/`, `bench-store-${run}/`]) {
            const keys = await redis.keys(`${prefix}*`);
            for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
          }
          await redis.quit();
        },
      };
    },
  },
  {
    name: "nats",
    target: true,
    driver: "@nats-io/kv",
    missing: async () => ((await canConnect("127.0.0.1", 4222)) ? undefined : "no NATS on 127.0.0.1:4222 (nats-server -js -a 127.0.0.1)"),
    store: async () => storeSide(new NatsStore({ servers: "127.0.0.1:4222", database: `bench-store-${run}` })),
    bare: async () => {
      const { connect } = await import("@nats-io/transport-node");
      const { Kvm } = await import("@nats-io/kv");
      const { jetstreamManager } = await import("@nats-io/jetstream");
      const nc = await connect({ servers: "127.0.0.1:4222" });
      const kv = await new Kvm(nc).create(`bench-bare-${run}`, { history: 1 });
      return {
        read: (k) => kv.get(`micro_${k}`),
        // The envelope the store writes (Go Micro's), built per write from the same record.
        write: (k) => kv.put(`micro_${k}`, Buffer.from(JSON.stringify({ key: k, data: VALUE.toString("base64"), metadata: METADATA }))),
        close: async () => {
          const jsm = await jetstreamManager(nc);
          for (const bucket of [`bench-bare-${run}`, `bench-store-${run}`]) await jsm.streams.delete(`KV_${bucket}`).catch(() => false);
          await nc.close();
        },
      };
    },
  },
];

interface Row {
  name: string;
  target: boolean;
  op: "read" | "write";
  concurrency: number;
  store: Tally;
  bare: Tally;
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US").padStart(10);

async function storesAgainstDrivers(): Promise<Row[]> {
  process.stdout.write(
    `stores against their drivers (ops/s over ${SLICES} alternating slices of ${SLICE} s each; ${KEYS} keys, ${VALUE.length}-byte values):\n`,
  );
  process.stdout.write(
    `  ${"store".padEnd(9)} ${"op".padEnd(6)} ${"c".padStart(3)} ${"store/s".padStart(10)} ${"driver/s".padStart(10)}  × driver  ${"CPU µs/op: store".padStart(16)} ${"driver".padStart(7)}\n`,
  );
  const rows: Row[] = [];
  for (const contender of contenders) {
    const missing = await contender.missing?.();
    if (missing) {
      process.stdout.write(`  ${contender.name.padEnd(9)} skipped: ${missing}\n`);
      continue;
    }
    const store = await contender.store();
    const bare = await contender.bare();
    try {
      await preload(store);
      await preload(bare);
      for (const op of ["read", "write"] as const) {
        for (const concurrency of [1, 64]) {
          const [storeTally, bareTally] = await measurePair(
            (i) => store[op](key(i)),
            (i) => bare[op](key(i)),
            concurrency,
          );
          const row = { name: contender.name, target: contender.target, op, concurrency, store: storeTally, bare: bareTally };
          rows.push(row);
          const ratio = row.store.opsPerSecond / row.bare.opsPerSecond;
          const cpu = `${row.store.cpuMicros.toFixed(1).padStart(7)} ${row.bare.cpuMicros.toFixed(1).padStart(7)}`;
          process.stdout.write(
            `  ${contender.name.padEnd(9)} ${op.padEnd(6)} ${String(concurrency).padStart(3)} ${fmt(row.store.opsPerSecond)} ${fmt(row.bare.opsPerSecond)}  ${ratio.toFixed(2)}${contender.target && ratio < 0.8 ? " <0.8" : "     "}  ${cpu.padStart(24)}   ${contender.driver}\n`,
          );
        }
      }
    } finally {
      await store.close();
      await bare.close();
    }
  }
  return rows;
}

/** Writes every key, 50 at a time. */
async function preload(side: Side): Promise<void> {
  for (let i = 0; i < KEYS; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => side.write(key(i + j))));
}

async function engineInOneProcess(): Promise<void> {
  process.stdout.write(`\nfile store engine, bare, one process (ops/s, ${SECONDS} s each; c=64: 64 writes in flight, which lmdb commits together):\n`);
  process.stdout.write(`  ${"op".padEnd(6)} ${"c".padStart(3)} ${ENGINES.map((e) => e.padStart(12)).join("")}\n`);
  const engines = new Map<EngineKind, Engine>();
  for (const kind of ENGINES) engines.set(kind, await openEngine(kind, path.join(tmp, "engine", `one-${kind}`)));
  try {
    for (const engine of engines.values()) {
      for (let i = 0; i < KEYS; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => engine.write(key(i + j), VALUE)));
    }
    for (const op of ["read", "write"] as const) {
      for (const concurrency of [1, 64]) {
        const figures: number[] = [];
        for (const engine of engines.values()) {
          figures.push(await measure(op === "read" ? (i) => engine.read(key(i)) : (i) => engine.write(key(i), VALUE), concurrency, SECONDS));
        }
        process.stdout.write(`  ${op.padEnd(6)} ${String(concurrency).padStart(3)} ${figures.map((f) => fmt(f).padStart(12)).join("")}\n`);
      }
    }
  } finally {
    for (const engine of engines.values()) await engine.close();
  }
}

/** 4 processes write one file at once for a few seconds; every write must be there afterwards. */
async function engineAcrossProcesses(): Promise<void> {
  const writers = 4;
  const seconds = quick ? 1 : 1.5;
  process.stdout.write(`\nfile store engine, bare, ${writers} processes writing one file at once for ${seconds} s (each write its own commit):\n`);
  for (const engine of ENGINES) {
    const file = path.join(tmp, "engine", `shared-${engine}`);
    // Created before the writers start, so they only open it.
    await (await openEngine(engine, file)).close();
    const startAt = Date.now() + 1_000;
    const results = await Promise.all(Array.from({ length: writers }, (_, id) => writer(engine, file, id, startAt, seconds)));
    const db = await openEngine(engine, file);
    const stored = db.count();
    await db.close();
    const ops = results.reduce((sum, r) => sum + r.ops, 0);
    const errors = results.reduce((sum, r) => sum + r.errors, 0);
    process.stdout.write(
      `  ${engine.padEnd(11)} ${fmt(ops / seconds)} writes/s in total (per process: ${results.map((r) => r.ops).join(", ")}); ${errors} failed; ${stored === ops ? "all" : `ONLY ${stored} of ${ops}`} present afterwards\n`,
    );
  }
}

function writer(engine: EngineKind, file: string, id: number, startAt: number, seconds: number): Promise<{ ops: number; errors: number }> {
  const child = spawn(process.execPath, [path.join(benchDir, "clients", "engine-writer.js"), engine, file, String(id), String(startAt), String(seconds)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  return new Promise((resolve, reject) =>
    child.once("exit", (code) => {
      try {
        resolve(JSON.parse(out.trim().split("\n").pop()!));
      } catch {
        reject(new Error(`engine-writer ${engine} exited with ${code}: ${out}`));
      }
    }),
  );
}

const started = Date.now();
try {
  const rows = await storesAgainstDrivers();
  const below = rows.filter((r) => r.target && r.store.opsPerSecond / r.bare.opsPerSecond < 0.8);
  process.stdout.write(
    below.length === 0 ? "  every store with a driver ≥ 0.8× it\n" : `  below 0.8×: ${below.map((r) => `${r.name} ${r.op} c=${r.concurrency}`).join(", ")}\n`,
  );
  await engineInOneProcess();
  await engineAcrossProcesses();
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.stdout.write(`\n(${((Date.now() - started) / 1_000).toFixed(0)} s)\n`);
process.exit(0);
