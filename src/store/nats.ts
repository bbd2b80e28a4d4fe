/**
 * NATS JetStream KV store (`@nats-io/kv`, `@nats-io/jetstream` and `@nats-io/transport-node`,
 * optional peer dependencies), in Go Micro's nats-js-kv layout so a Go Micro service and a
 * ts-micro service share records:
 *
 * - the micro database is a KV bucket (stream `KV_<database>`), created on first write with Go
 *   Micro's settings (file storage, history 1, its description);
 * - the micro table is a key prefix: the NATS key is `<table>_<key>`, base32-encoded (Go's
 *   `base32.StdEncoding`, as Go Micro's `EncodeKeys()` option), so any key is possible; with
 *   `encodeKeys: false` it is plain, as Go Micro's default, and a key must then fit NATS's key
 *   alphabet (`A-Z a-z 0-9 - / _ = .`);
 * - the value is Go Micro's envelope `{"key":"<key>","data":"<base64>","metadata":{…}}`.
 *
 * Expiry: Go Micro's layout has none, so a record's expiry is an extra envelope field,
 * `"expiresAt"` (RFC 3339), which Go Micro ignores; reads and lists skip an expired record and
 * delete it (only if it was not rewritten meanwhile). On NATS 2.11 and later the bucket also gets
 * `allow_msg_ttl` and an expiring record is published with a per-message TTL (`Nats-TTL`, whole
 * seconds, rounded up), so the server removes it by itself; the envelope field still decides to
 * the millisecond. Before 2.11 (e.g. 2.9, 2.10) the envelope is all there is.
 *
 * Table and key are joined with `_`, as Go Micro does, so table `a` key `b_c` and table `a_b` key
 * `c` are one NATS key. A read checks the envelope's key, so a record only ever shows in the table
 * that wrote it; writing both makes the later one replace the earlier.
 *
 * Listing reads the bucket's keys (one headers-only consumer), keeps the table's, orders them,
 * then fetches envelopes a chunk at a time until the page is full.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV, KvEntry, Kvm } from "@nats-io/kv";
import { base32Decode, base32Encode } from "../driver/base32.js";
import { loadDriver } from "../driver/driver.js";
import { Lazy } from "../driver/lazy.js";
import { type NatsConnectionOptions, type NatsHandle, openNatsConnection, parseServers } from "../driver/nats.js";
import { MicroError } from "../errors/errors.js";
import {
  compareKeys,
  deleteRequest,
  type Location,
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
  badStoreInput,
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

export type { NatsConnectionOptions, NatsTlsOptions } from "../driver/nats.js";

export interface NatsStoreOptions extends NatsConnectionOptions {
  /** Default database, that is bucket (`micro`; Go Micro's nats-js-kv default is `default`). */
  database?: string;
  /** Default table, that is key prefix (`micro`). */
  table?: string;
  /** Largest value accepted before encoding, in bytes (default 16 MiB); the server's max_payload limits the envelope too. */
  maxValueBytes?: number;
  /** base32-encode NATS keys, as Go Micro's `EncodeKeys()` (default true); false: plain keys, as Go Micro's default. */
  encodeKeys?: boolean;
  /** Where new buckets keep their data (default `file`, as Go Micro; `memory` is Go Micro's `DefaultMemory()`). */
  storage?: "file" | "memory";
  /** Milliseconds a JetStream call may take before it fails with a 503 (default 5 s). */
  timeout?: number;
}

/** The description Go Micro gives the buckets it creates. */
export const GO_MICRO_BUCKET_DESCRIPTION = "KeyValue storage administered by go-micro store plugin";

/** Longest NATS key accepted: the subject must stay well inside the server's 4 KiB control line. */
const MAX_NATS_KEY = 3_000;
/** JetStream's error codes for "stream not found" and "message size exceeds maximum allowed". */
const STREAM_NOT_FOUND = 10059;
const MESSAGE_TOO_LARGE = 10054;
/** Envelopes fetched at once while listing. */
const CHUNK = 64;

/** Go Micro's KeyValueEnvelope, plus our expiry. */
interface Envelope {
  key: string;
  /** base64; Go's nil []byte is null. */
  data: string | null;
  metadata: Record<string, unknown> | null;
  expiresAt?: string;
}

interface Connection {
  handle: NatsHandle;
  js: JetStreamClient;
  kvm: Kvm;
}

type KvDriver = typeof import("@nats-io/kv");
type JetStreamDriver = typeof import("@nats-io/jetstream");

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export class NatsStore implements Store {
  readonly name = "nats";
  readonly servers: string[];
  private readonly defaults: StoreDefaults;
  private readonly encodeKeys: boolean;
  private readonly connection: Lazy<Connection>;
  private readonly buckets = new Map<string, Promise<KV>>();
  /** Databases whose bucket takes a TTL per message (NATS 2.11+). */
  private readonly ttlBuckets = new Set<string>();
  /** Whether the connection is up; while it is not, calls fail at once. */
  private connected = false;
  /** Rejects the calls in flight when the connection drops. */
  private outage = new Outage();

  constructor(private readonly options: NatsStoreOptions = {}) {
    this.defaults = storeDefaults(options, DEFAULT_MAX_VALUE_BYTES);
    this.encodeKeys = options.encodeKeys ?? true;
    this.servers = parseServers(options.servers ?? process.env.MICRO_STORE_ADDRESS);
    this.connection = new Lazy(() => this.open());
  }

  async read(key: string, options?: ReadOptions): Promise<StoreRecord[]> {
    const query = readQuery(key, options, this.defaults);
    if (query.key !== undefined) {
      const natsKey = this.natsKey(query, query.key);
      const kv = await this.bucket(query.database, false);
      const entry = kv && (await this.run(kv.get(natsKey)));
      const record = entry && this.live(kv, entry, query.key);
      if (!record) throw new StoreNotFoundError(query.key);
      return [record];
    }
    return (await this.find(query, true)) as StoreRecord[];
  }

  async write(record: WritableRecord, options?: WriteOptions): Promise<void> {
    const request = writeRequest(record, options, this.defaults);
    const natsKey = this.natsKey(request, request.key);
    // The envelope is built as text: the metadata is JSON already.
    let envelope = `{"key":${JSON.stringify(request.key)},"data":"${Buffer.from(request.value.buffer, request.value.byteOffset, request.value.byteLength).toString("base64")}","metadata":${request.metadata}`;
    if (request.expiresAt !== undefined) envelope += `,"expiresAt":"${new Date(request.expiresAt).toISOString()}"`;
    envelope += "}";
    const payload = encoder.encode(envelope);
    const { handle } = await this.connect();
    const max = handle.nc.info?.max_payload;
    if (max !== undefined && payload.byteLength > max) {
      throw badStoreInput(
        `the record ${JSON.stringify(request.key)} is ${payload.byteLength} bytes as a NATS KV entry (its value base64-encoded in Go Micro's envelope), over the server's max_payload of ${max} bytes`,
      );
    }
    const kv = (await this.bucket(request.database, true)) as KV;
    if (request.expiresAt !== undefined && this.ttlBuckets.has(request.database)) {
      // A KV entry is a message on $KV.<bucket>.<key>: published directly, it can carry a TTL.
      const ttl = `${Math.max(1, Math.ceil((request.expiresAt - Date.now()) / 1000))}s`;
      await this.run(this.connect().then(({ js }) => js.publish(`$KV.${request.database}.${natsKey}`, payload, { ttl })));
    } else {
      await this.run(kv.put(natsKey, payload));
    }
  }

  async delete(key: string, options?: DeleteOptions): Promise<void> {
    const request = deleteRequest(key, options, this.defaults);
    const natsKey = this.natsKey(request, request.key);
    const kv = await this.bucket(request.database, false);
    if (kv) await this.run(kv.delete(natsKey));
  }

  async list(options?: ListOptions): Promise<string[]> {
    return (await this.find(listQuery(options, this.defaults), false)) as string[];
  }

  async close(): Promise<void> {
    const connection = await this.connection.peek()?.catch(() => undefined);
    this.connection.reset();
    this.buckets.clear();
    this.ttlBuckets.clear();
    this.connected = false;
    await connection?.handle.release();
  }

  /** The page of live records (or only their keys) matching a prefix/suffix query, in key order. */
  private async find(query: Query, withRecords: boolean): Promise<StoreRecord[] | string[]> {
    const kv = await this.bucket(query.database, false);
    if (!kv) return [];
    const candidates = (await this.tableKeys(kv, query)).filter((key) => matches(query, key)).sort(compareKeys);
    const wanted = query.limit > 0 ? query.offset + query.limit : Number.POSITIVE_INFINITY;
    const live: StoreRecord[] = [];
    for (let i = 0; i < candidates.length && live.length < wanted; i += CHUNK) {
      const chunk = candidates.slice(i, i + CHUNK);
      const entries = await this.run(Promise.all(chunk.map((key) => kv.get(this.natsKey(query, key)))));
      entries.forEach((entry, j) => {
        const record = entry && this.live(kv, entry, chunk[j]);
        if (record) live.push(record);
      });
    }
    const found = page(live, query);
    return withRecords ? found : found.map((record) => record.key);
  }

  /** The micro keys of the table's entries in the bucket (unordered, not yet checked for expiry). */
  private async tableKeys(kv: KV, where: Location): Promise<string[]> {
    const prefix = `${where.table}_`;
    const keys: string[] = [];
    const iterator = await this.run(kv.keys());
    try {
      await this.run(
        (async () => {
          for await (const natsKey of iterator) {
            const full = this.fullKey(natsKey);
            if (full.startsWith(prefix)) keys.push(full.slice(prefix.length));
          }
        })(),
      );
    } finally {
      iterator.stop();
    }
    return keys;
  }

  /**
   * The record in `entry`, or undefined when it is deleted, expired (then removed, unless
   * rewritten since), another table's (see the header), or not a Go Micro envelope.
   */
  private live(kv: KV, entry: KvEntry, key: string): StoreRecord | undefined {
    if (entry.operation !== "PUT") return undefined;
    let envelope: Envelope;
    try {
      envelope = entry.json<Envelope>();
    } catch {
      return undefined;
    }
    if (envelope === null || typeof envelope !== "object" || envelope.key !== key) return undefined;
    const expiresAt = envelope.expiresAt === undefined ? undefined : Date.parse(envelope.expiresAt);
    const now = Date.now();
    if (expiresAt !== undefined && expiresAt <= now) {
      kv.delete(entry.key, { previousSeq: entry.revision }).catch(() => {});
      return undefined;
    }
    const data = envelope.data ? Buffer.from(envelope.data, "base64") : Buffer.alloc(0);
    const record: StoreRecord = {
      key,
      value: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      metadata: envelope.metadata ?? {},
    };
    const left = remaining(expiresAt, now);
    if (left !== undefined) record.expiry = left;
    return record;
  }

  /** `<table>_<key>`, encoded; a key NATS cannot hold is a 400. */
  private natsKey(where: Location, key: string): string {
    const full = `${where.table}_${key}`;
    const natsKey = this.encodeKeys ? base32Encode(encoder.encode(full)) : full;
    if (natsKey.length > MAX_NATS_KEY) {
      throw badStoreInput(
        `the key ${JSON.stringify(key.slice(0, 40))}… is too long for NATS KV: ${natsKey.length} characters as a NATS key, at most ${MAX_NATS_KEY}`,
      );
    }
    if (!this.encodeKeys && (!/^[-/=.\w]+$/.test(natsKey) || natsKey.endsWith(".") || natsKey.includes(".."))) {
      throw badStoreInput(
        `the key ${JSON.stringify(key)} is not a valid NATS KV key (letters, digits, "-", "/", "_", "=", "." not at the end nor doubled); this store was made with encodeKeys: false`,
      );
    }
    return natsKey;
  }

  /** The `<table>_<key>` a NATS key stands for; one that is not base32 is taken as it is (as Go Micro does). */
  private fullKey(natsKey: string): string {
    if (!this.encodeKeys) return natsKey;
    const bytes = base32Decode(natsKey);
    if (!bytes) return natsKey;
    try {
      return strictUtf8.decode(bytes);
    } catch {
      return natsKey;
    }
  }

  /** The database's bucket; created if `create`, else undefined when it does not exist yet. */
  private async bucket(database: string, create: boolean): Promise<KV | undefined> {
    const known = this.buckets.get(database);
    if (known) return this.run(known);
    const { js } = await this.connect();
    if (!create && !(await this.bucketExists(js, database))) return undefined;
    const opening = this.openBucket(database);
    opening.catch(() => this.buckets.delete(database));
    this.buckets.set(database, opening);
    return this.run(opening);
  }

  /**
   * Opens (creating it with Go Micro's settings if absent) the database's bucket; on a server
   * with per-message TTL, turns it on for the bucket (a Go Micro bucket too: Go Micro ignores it).
   */
  private async openBucket(database: string): Promise<KV> {
    const { handle, js, kvm } = await this.connect();
    const kv = await kvm.create(database, {
      description: GO_MICRO_BUCKET_DESCRIPTION,
      history: 1,
      storage: this.options.storage === "memory" ? "memory" : "file",
    });
    if (hasMessageTtl(handle.nc.info?.version)) {
      const jsm = await js.jetstreamManager();
      const { config } = await jsm.streams.info(`KV_${database}`);
      if (!config.allow_msg_ttl) await jsm.streams.update(config.name, { ...config, allow_msg_ttl: true });
      this.ttlBuckets.add(database);
    }
    return kv;
  }

  private async bucketExists(js: JetStreamClient, database: string): Promise<boolean> {
    const jsm = await this.run(js.jetstreamManager());
    const info = jsm.streams.info(`KV_${database}`).then(
      () => true,
      (err: { code?: number }) => {
        if (err.code === STREAM_NOT_FOUND) return false;
        throw err;
      },
    );
    return this.run(info);
  }

  /** The connection, or a 503 at once while it is down. */
  private async connect(): Promise<Connection> {
    const connection = await this.run(this.connection.get());
    if (!this.connected) throw MicroError.unavailable(STORE_ERROR_ID, "nats store unavailable: the connection to NATS is down, reconnecting");
    return connection;
  }

  private async open(): Promise<Connection> {
    const jetstream = await loadDriver<JetStreamDriver>("@nats-io/jetstream", "nats store");
    const { Kvm } = await loadDriver<KvDriver>("@nats-io/kv", "nats store");
    const handle = await openNatsConnection(
      { ...this.options, servers: this.servers },
      {
        plugin: "nats store",
        name: "ts-micro store",
        timeout: this.options.timeout ?? 5_000,
        onDisconnect: () => {
          this.connected = false;
          this.outage.fire();
        },
        onReconnect: () => {
          this.outage = new Outage();
          this.connected = true;
        },
      },
    );
    const js = jetstream.jetstream(handle.nc, { timeout: this.options.timeout ?? 5_000 });
    this.connected = true;
    return { handle, js, kvm: new Kvm(js) };
  }

  /**
   * Runs a NATS call: it fails with a 503 when NATS fails it, or at once when the connection drops
   * while it waits, rather than after its timeout. 400s raised here pass through.
   */
  private async run<T>(call: Promise<T>): Promise<T> {
    try {
      return await Promise.race([call, this.outage.signal]);
    } catch (err) {
      if (err instanceof MicroError) throw err;
      if ((err as { code?: number }).code === MESSAGE_TOO_LARGE)
        throw badStoreInput(`the record is over the bucket's largest value: ${(err as Error).message}`);
      // The bucket may be gone (deleted, or the server's data lost): look again next time.
      this.buckets.clear();
      this.ttlBuckets.clear();
      throw MicroError.unavailable(STORE_ERROR_ID, `nats store unavailable: ${(err as Error).message}`);
    }
  }
}

/** Whether a server of this version keeps a TTL per message (NATS 2.11+, ADR-43). */
export function hasMessageTtl(version: string | undefined): boolean {
  const match = /^v?(\d+)\.(\d+)\./.exec(version ?? "");
  if (!match) return false;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > 2 || (major === 2 && minor >= 11);
}

/** A promise that rejects when the connection drops; a new one replaces it once reconnected. */
class Outage {
  readonly signal: Promise<never>;
  private reject!: (err: Error) => void;
  constructor() {
    this.signal = new Promise<never>((_, reject) => (this.reject = reject));
    // Nobody may be waiting when it fires.
    this.signal.catch(() => {});
  }
  fire(): void {
    this.reject(MicroError.unavailable(STORE_ERROR_ID, "nats store unavailable: the connection to NATS dropped"));
  }
}
