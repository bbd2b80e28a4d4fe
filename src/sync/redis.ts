/**
 * Locks and elections on one Redis server (`ioredis`, an optional peer dependency):
 *
 * - the lock `id` is the key `<prefix>lock:<id>`, set with `SET key owner NX PX ttl`, where `owner`
 *   is a random value of this acquisition; a script takes the key and the next fencing token
 *   (`INCR <prefix>token:<id>`, kept forever so tokens never repeat) in one step;
 * - the holder renews the key every ttl/3 and releases it, each by a script that first checks the
 *   key still holds its `owner`, so a holder whose key expired can never extend or delete the
 *   next holder's;
 * - waiters poll with a growing delay (5 ms doubling to 50 ms).
 *
 * A single server only: with Redis replication a failover can lose a lock that was just taken
 * (the usual Redis caveat); use etcd where that matters.
 */
import type { Redis as RedisClient, RedisOptions } from "ioredis";
import { randomUUID } from "../driver/crypto.js";
import { loadDriver } from "../driver/driver.js";
import { Lazy } from "../driver/lazy.js";
import { MicroError } from "../errors/errors.js";
import {
  checkId,
  checkTimes,
  forRequest,
  type LeaderOptions,
  type Leadership,
  type Lock,
  type LockOptions,
  leadershipOf,
  pauseBeforeRetry,
  SYNC_ERROR_ID,
  type Sync,
  untilAborted,
  waitDeadline,
} from "./sync.js";

type RedisDriver = typeof import("ioredis");

export interface RedisSyncOptions {
  /** `host:port` or `redis://…`. Default `127.0.0.1:6379`. */
  address?: string;
  /** Prefix of every key this writes. Default `micro:sync:`. */
  prefix?: string;
  /** Extra ioredis options. */
  connection?: RedisOptions;
}

/** Takes the lock if free and returns the new fencing token, else 0. */
const TAKE = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('INCR', KEYS[2]) end return 0`;
/** Extends the lock if `owner` still holds it: 1, else 0. */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
/** Deletes the lock if `owner` still holds it. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

const FIRST_POLL = 5;
const LONGEST_POLL = 50;

interface Held {
  key: string;
  owner: string;
  renewal: NodeJS.Timeout;
  abandoned: boolean;
}

export class RedisSync implements Sync {
  readonly name = "redis";
  readonly address: string;
  private readonly prefix: string;
  private readonly client = new Lazy(() => this.connect());
  private readonly held = new Set<Held>();
  private readonly closing = new AbortController();

  constructor(private readonly options: RedisSyncOptions = {}) {
    this.address = options.address ?? "127.0.0.1:6379";
    this.prefix = options.prefix ?? "micro:sync:";
  }

  async lock(id: string, options: LockOptions = {}): Promise<Lock> {
    checkId(id);
    const ttl = Math.ceil(checkTimes(options));
    if (this.closing.signal.aborted) throw this.closing.signal.reason;
    const signal = options.signal ? AbortSignal.any([options.signal, this.closing.signal]) : this.closing.signal;
    const deadline = waitDeadline(id, { wait: options.wait, signal });
    try {
      const redis = await untilAborted(this.client.get(), forRequest(signal), `redis sync: connect to ${this.address}`);
      const key = `${this.prefix}lock:${id}`;
      const owner = randomUUID();
      for (let pause = FIRST_POLL; ; pause = Math.min(pause * 2, LONGEST_POLL)) {
        const take = redis.eval(TAKE, 2, key, `${this.prefix}token:${id}`, owner, ttl) as Promise<number>;
        const token = await untilAborted(take, forRequest(signal), `redis sync: lock ${JSON.stringify(id)}`).catch((err: unknown) => {
          // Given up while the script was in flight: if it took the lock after all, give it back.
          void take.then((late) => late !== 0 && redis.eval(RELEASE, 1, key, owner)).catch(() => {});
          throw err;
        });
        if (token !== 0) return this.hold(redis, id, key, owner, BigInt(token), ttl);
        await pauseBeforeRetry(pause, deadline.signal);
      }
    } finally {
      deadline.dispose();
    }
  }

  async leader(id: string, options: LeaderOptions = {}): Promise<Leadership> {
    return leadershipOf(await this.lock(id, { ttl: options.ttl, signal: options.signal }));
  }

  async close(): Promise<void> {
    this.closing.abort(MicroError.unavailable(SYNC_ERROR_ID, "sync closed"));
    const client = this.client.peek();
    this.client.reset();
    if (!client) return;
    const redis = await client.catch(() => undefined);
    if (!redis) return;
    await Promise.all([...this.held].map((held) => this.release(redis, held)));
    await redis.quit().catch(() => redis.disconnect());
  }

  /**
   * Stops renewing every held lock without releasing it, as a frozen or killed process would:
   * each lock is lost once its TTL lapses. For tests of failover.
   */
  abandon(): void {
    for (const held of this.held) {
      held.abandoned = true;
      clearInterval(held.renewal);
    }
    this.held.clear();
  }

  private hold(redis: RedisClient, id: string, key: string, owner: string, token: bigint, ttl: number): Lock {
    const lost = new AbortController();
    const lose = (reason: string): void => {
      clearTimeout(silence);
      clearInterval(held.renewal);
      this.held.delete(held);
      if (!lost.signal.aborted) lost.abort(MicroError.unavailable(SYNC_ERROR_ID, `lock ${JSON.stringify(id)} lost: ${reason}`));
    };
    // The key may have expired once a whole TTL passed without a renewal reaching Redis.
    const watchdog = (): NodeJS.Timeout => setTimeout(() => lose(`not renewed for ${ttl} ms`), ttl).unref();
    let silence = watchdog();
    const renew = async (): Promise<void> => {
      const renewed = await redis.eval(RENEW, 1, key, owner, ttl).catch(() => undefined);
      if (held.abandoned || lost.signal.aborted) return;
      if (renewed === 0) lose("the key expired or was taken over");
      else if (renewed !== undefined) {
        clearTimeout(silence);
        silence = watchdog();
      }
    };
    const held: Held = { key, owner, renewal: setInterval(() => void renew(), ttl / 3), abandoned: false };
    held.renewal.unref();
    this.held.add(held);
    return {
      id,
      token,
      lost: lost.signal,
      unlock: async () => {
        clearTimeout(silence);
        await this.release(redis, held);
      },
    };
  }

  private async release(redis: RedisClient, held: Held): Promise<void> {
    clearInterval(held.renewal);
    this.held.delete(held);
    if (held.abandoned) return;
    held.abandoned = true;
    await redis.eval(RELEASE, 1, held.key, held.owner).catch(() => {});
  }

  private async connect(): Promise<RedisClient> {
    const { Redis } = await loadDriver<RedisDriver>("ioredis", "redis sync");
    const url = /^rediss?:\/\//.test(this.address) ? this.address : `redis://${this.address}`;
    const redis = new Redis(url, { lazyConnect: true, retryStrategy: (n) => Math.min(n * 100, 2_000), ...this.options.connection });
    redis.on("error", () => {}); // failed calls reject; reconnection is ioredis's
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect(); // else ioredis keeps reconnecting a client nobody holds
      throw err;
    }
    return redis;
  }
}
