/**
 * Redis store (`ioredis`, an optional peer dependency). Layout:
 *
 *   <database>/<table>/<key>   a hash {value: bytes, metadata: JSON}, with Redis's own expiry (PEXPIREAT)
 *   <database>/<table>         a sorted set of the table's keys, all with score 0, so ZRANGEBYLEX
 *                              walks them in byte order and by prefix
 *
 * Names cannot contain "/", so the two kinds of key never collide. A record and its index entry
 * are written and deleted in one MULTI. Redis expires a record by itself; its index entry is
 * removed when a list or prefix read meets it, so the index never returns an expired key.
 */
import type { Redis as RedisClient, RedisOptions } from "ioredis";
import { loadDriver } from "../driver/driver.js";
import { Lazy } from "../driver/lazy.js";
import { MicroError } from "../errors/errors.js";
import {
  bytes,
  deleteRequest,
  type Location,
  listQuery,
  matches,
  page,
  type Query,
  readQuery,
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

export interface RedisStoreOptions {
  /** `host:port` or a `redis://` / `rediss://` URL. Default: `MICRO_STORE_ADDRESS`, else 127.0.0.1:6379. */
  address?: string;
  /** Default database (`micro`). */
  database?: string;
  /** Default table (`micro`). */
  table?: string;
  /** Largest value accepted, in bytes (default 16 MiB). */
  maxValueBytes?: number;
  /** Extra ioredis options. */
  connection?: RedisOptions;
}

type RedisDriver = typeof import("ioredis");

/** Index entries checked per round trip while paging. */
const CHUNK = 256;

export class RedisStore implements Store {
  readonly name = "redis";
  private readonly defaults: StoreDefaults;
  private readonly redis: Lazy<RedisClient>;

  constructor(options: RedisStoreOptions = {}) {
    this.defaults = storeDefaults(options, DEFAULT_MAX_VALUE_BYTES);
    const address = options.address || process.env.MICRO_STORE_ADDRESS || "127.0.0.1:6379";
    this.redis = new Lazy(async () => {
      const { Redis } = await loadDriver<RedisDriver>("ioredis", "redis store");
      const url = /^rediss?:\/\//.test(address) ? address : `redis://${address}`;
      // No offline queue: while the server is away a call fails at once (503) rather than waiting.
      const redis = new Redis(url, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        retryStrategy: (n) => Math.min(n * 100, 2_000),
        ...options.connection,
      });
      redis.on("error", () => {});
      try {
        await redis.connect();
      } catch (err) {
        // Stop its reconnecting: the next call opens a new client.
        redis.disconnect();
        throw err;
      }
      return redis;
    });
  }

  async read(key: string, options?: ReadOptions): Promise<StoreRecord[]> {
    const query = readQuery(key, options, this.defaults);
    if (query.key !== undefined) {
      const [record] = await this.fetch(query, [query.key]);
      if (!record) throw new StoreNotFoundError(query.key);
      return [record];
    }
    return this.fetch(query, await this.keys(query));
  }

  async write(record: WritableRecord, options?: WriteOptions): Promise<void> {
    const request = writeRequest(record, options, this.defaults);
    const redis = await this.connection();
    const key = recordKey(request, request.key);
    const multi = redis
      .multi()
      .del(key)
      .hset(key, "value", Buffer.from(request.value.buffer, request.value.byteOffset, request.value.byteLength), "metadata", request.metadata);
    if (request.expiresAt !== undefined) multi.pexpireat(key, request.expiresAt);
    multi.zadd(indexKey(request), 0, request.key);
    await this.run(multi.exec());
  }

  async delete(key: string, options?: DeleteOptions): Promise<void> {
    const request = deleteRequest(key, options, this.defaults);
    const redis = await this.connection();
    await this.run(redis.multi().del(recordKey(request, request.key)).zrem(indexKey(request), request.key).exec());
  }

  async list(options?: ListOptions): Promise<string[]> {
    return this.keys(listQuery(options, this.defaults));
  }

  async close(): Promise<void> {
    const redis = this.redis.peek();
    this.redis.reset();
    const client = await redis?.catch(() => undefined);
    if (client) await client.quit().catch(() => client.disconnect());
  }

  /**
   * The page of live keys matching the query: walks the index in order from the prefix, checks
   * candidates a chunk at a time, and drops index entries whose record has expired.
   */
  private async keys(query: Query): Promise<string[]> {
    const redis = await this.connection();
    const index = indexKey(query);
    const min = query.prefix ? `[${query.prefix}` : "-";
    // Every key with the prefix sorts below prefix+0xFF: no UTF-8 text contains the byte 0xFF.
    const max = query.prefix ? Buffer.concat([Buffer.from(`(${query.prefix}`), Buffer.from([0xff])]) : "+";
    const candidates = (await this.run(redis.zrangebylex(index, min, max))).filter((key) => matches(query, key));
    const wanted = query.limit > 0 ? query.offset + query.limit : Number.POSITIVE_INFINITY;
    const live: string[] = [];
    for (let i = 0; i < candidates.length && live.length < wanted; i += CHUNK) {
      const chunk = candidates.slice(i, i + CHUNK);
      const pipeline = redis.pipeline();
      for (const key of chunk) pipeline.exists(recordKey(query, key));
      const exists = (await this.run(pipeline.exec())) ?? [];
      const expired = chunk.filter((_, j) => exists[j]?.[1] !== 1);
      live.push(...chunk.filter((_, j) => exists[j]?.[1] === 1));
      if (expired.length > 0) await this.run(redis.zrem(index, ...expired));
    }
    return page(live, query);
  }

  /** The records of `keys`, in that order; keys gone meanwhile are left out. */
  private async fetch(where: Location, keys: string[]): Promise<StoreRecord[]> {
    if (keys.length === 0) return [];
    const redis = await this.connection();
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.hmgetBuffer(recordKey(where, key), "value", "metadata").pttl(recordKey(where, key));
    const replies = (await this.run(pipeline.exec())) ?? [];
    const records: StoreRecord[] = [];
    keys.forEach((key, i) => {
      const [value, metadata] = (replies[2 * i]?.[1] as (Buffer | null)[] | undefined) ?? [];
      const ttl = replies[2 * i + 1]?.[1] as number;
      if (!value || !metadata) return;
      const record: StoreRecord = { key, value: bytes(value), metadata: JSON.parse(metadata.toString()) };
      if (ttl > 0) record.expiry = ttl;
      records.push(record);
    });
    return records;
  }

  private connection(): Promise<RedisClient> {
    return this.run(this.redis.get());
  }

  /** Runs a Redis call; a failure that is not Redis's reply to the command is a 503. */
  private async run<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (err) {
      if ((err as Error).name === "ReplyError") throw err;
      throw new MicroError(STORE_ERROR_ID, 503, `redis store unavailable: ${(err as Error).message}`);
    }
  }
}

function indexKey(where: Location): string {
  return `${where.database}/${where.table}`;
}

function recordKey(where: Location, key: string): string {
  return `${where.database}/${where.table}/${key}`;
}
