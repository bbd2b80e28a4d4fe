/**
 * Locks and elections on NATS JetStream KV (`@nats-io/kv`, `@nats-io/jetstream` and
 * `@nats-io/transport-node`, optional peer dependencies). Go Micro has no NATS sync; the layout is
 * ours:
 *
 * - one bucket (default `micro_sync`, history 1) holds every lock; the lock `id` is the key
 *   base32(`<prefix><id>`), its value `{"owner":"<uuid>","ttl":<ms>}`;
 * - taking a free lock is a compare-and-set on the key's revision (create when absent, update
 *   over a delete marker), so of several takers exactly one succeeds; the revision it wrote is
 *   the fencing token: it is a sequence number of the bucket's stream, so every later
 *   acquisition of any lock gets a greater one;
 * - the holder renews every ttl/3 by an update expecting its own last revision (a renewal that
 *   finds another revision means the lock was taken over: `lost` fires), and unlocks by a delete
 *   expecting it too, so it can never touch the next holder's lock;
 * - expiry needs no clocks to agree: a waiter that sees the same revision for the holder's whole
 *   `ttl` (measured on its own monotonic clock, from when it first saw that revision) takes the
 *   lock over, again by compare-and-set. The holder counts its ttl from before it sent its last
 *   renewal that succeeded, so it knows it lost the lock no later than anyone can take it;
 * - waiters poll with a growing delay (5 ms doubling to 50 ms).
 *
 * A lock whose holder died is free again within its ttl (plus one poll) of the holder's last
 * renewal, for waiters that were already watching; a waiter that arrives later waits one ttl
 * from its arrival.
 */
import { performance } from "node:perf_hooks";
import type { KV } from "@nats-io/kv";
import { base32Encode } from "../driver/base32.js";
import { randomUUID } from "../driver/crypto.js";
import { loadDriver } from "../driver/driver.js";
import { Lazy } from "../driver/lazy.js";
import { type NatsConnectionOptions, type NatsHandle, openNatsConnection, parseServers } from "../driver/nats.js";
import { MicroError } from "../errors/errors.js";
import {
  checkId,
  checkTimes,
  DEFAULT_LOCK_TTL,
  forRequest,
  type LeaderOptions,
  type Leadership,
  type Lock,
  type LockOptions,
  leadershipOf,
  pauseBeforeRetry,
  REQUEST_TIMEOUT,
  SYNC_ERROR_ID,
  type Sync,
  untilAborted,
  waitDeadline,
} from "./sync.js";

export type { NatsConnectionOptions, NatsTlsOptions } from "../driver/nats.js";

export interface NatsSyncOptions extends NatsConnectionOptions {
  /** The KV bucket of the locks. Default `micro_sync`. */
  bucket?: string;
  /** Prepended to every id (Go Micro's sync `Prefix`). Default none. */
  prefix?: string;
}

export const DEFAULT_SYNC_BUCKET = "micro_sync";

type KvDriver = typeof import("@nats-io/kv");
type JetStreamDriver = typeof import("@nats-io/jetstream");

/** JetStream's answers to a compare-and-set that found another revision. */
const WRONG_LAST_SEQUENCE = new Set([10071, 10164]);

const FIRST_POLL = 5;
const LONGEST_POLL = 50;

interface Connection {
  handle: NatsHandle;
  kv: KV;
}

/** What a waiter remembers of the holder it watches. */
interface Sighting {
  revision: number;
  since: number;
}

interface Held {
  key: string;
  /** The revision of our last write: a renewal or unlock expects it. */
  revision: number;
  renewal: NodeJS.Timeout;
  /** The renewal in flight, if any: unlock waits for it, so it expects the latest revision. */
  renewing?: Promise<void>;
  abandoned: boolean;
}

export class NatsSync implements Sync {
  readonly name = "nats";
  readonly servers: string[];
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly connection = new Lazy(() => this.open());
  private readonly held = new Set<Held>();
  private readonly closing = new AbortController();
  /** Whether the connection is up; while it is not, an attempt fails at once (503). */
  private connected = false;

  constructor(private readonly options: NatsSyncOptions = {}) {
    this.servers = parseServers(options.servers);
    this.bucket = options.bucket ?? DEFAULT_SYNC_BUCKET;
    this.prefix = options.prefix ?? "";
    if (!/^[-\w]+$/.test(this.bucket))
      throw MicroError.badRequest(SYNC_ERROR_ID, `invalid NATS KV bucket name ${JSON.stringify(this.bucket)}: use letters, digits, "_" or "-"`);
  }

  async lock(id: string, options: LockOptions = {}): Promise<Lock> {
    checkId(id);
    const ttl = Math.ceil(checkTimes(options));
    if (this.closing.signal.aborted) throw this.closing.signal.reason;
    const signal = options.signal ? AbortSignal.any([options.signal, this.closing.signal]) : this.closing.signal;
    const deadline = waitDeadline(id, { wait: options.wait, signal });
    try {
      const { kv } = await untilAborted(this.connection.get(), forRequest(signal), `nats sync: connect to ${this.servers.join(", ")}`);
      const key = base32Encode(new TextEncoder().encode(this.prefix + id));
      const value = JSON.stringify({ owner: randomUUID(), ttl });
      let sighting: Sighting | undefined;
      for (let pause = FIRST_POLL; ; pause = Math.min(pause * 2, LONGEST_POLL)) {
        const attempt = this.attempt(kv, key, value, sighting);
        const result = await untilAborted(attempt, forRequest(signal), `nats sync: lock ${JSON.stringify(id)}`).catch((err: unknown) => {
          // Given up while the attempt was in flight: if it took the lock after all, give it back.
          void attempt
            .then(async (late) => {
              if (late.taken) await kv.delete(key, { previousSeq: late.revision });
            })
            .catch(() => {});
          throw err;
        });
        if (result.taken) return this.hold(kv, id, key, value, result.revision, result.sentAt, ttl);
        sighting = result.sighting;
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
    const connection = await this.connection.peek()?.catch(() => undefined);
    this.connection.reset();
    if (!connection) return;
    await Promise.all([...this.held].map((held) => this.release(connection.kv, held)));
    await connection.handle.release();
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

  /**
   * One try: take the lock if it is free or its holder let a whole ttl pass without a renewal we
   * could see; otherwise say which revision we saw, and since when.
   */
  private async attempt(
    kv: KV,
    key: string,
    value: string,
    sighting: Sighting | undefined,
  ): Promise<{ taken: true; revision: number; sentAt: number } | { taken: false; sighting: Sighting }> {
    if (!this.connected) throw MicroError.unavailable(SYNC_ERROR_ID, "nats sync: the connection to NATS is down, reconnecting");
    const entry = await kv.get(key);
    const now = performance.now();
    let write: (() => Promise<number>) | undefined;
    if (!entry) write = () => kv.create(key, value);
    else if (entry.operation !== "PUT") write = () => kv.update(key, value, entry.revision);
    else if (sighting?.revision === entry.revision && now - sighting.since >= holderTtl(entry.string())) write = () => kv.update(key, value, entry.revision);
    if (write) {
      try {
        return { taken: true, revision: await write(), sentAt: now };
      } catch (err) {
        if (!WRONG_LAST_SEQUENCE.has((err as { code?: number }).code ?? 0)) throw err;
        // Someone else was faster: watch the new holder from now.
      }
    }
    const seen = entry && entry.operation === "PUT" && sighting?.revision === entry.revision ? sighting : undefined;
    return { taken: false, sighting: seen ?? { revision: entry?.revision ?? 0, since: now } };
  }

  private hold(kv: KV, id: string, key: string, value: string, revision: number, sentAt: number, ttl: number): Lock {
    const lost = new AbortController();
    const lose = (reason: string): void => {
      clearTimeout(silence);
      clearInterval(held.renewal);
      this.held.delete(held);
      if (!lost.signal.aborted) lost.abort(MicroError.unavailable(SYNC_ERROR_ID, `lock ${JSON.stringify(id)} lost: ${reason}`));
    };
    // A waiter may take the lock once a ttl passed from our last write it saw; count from before we sent it.
    const watchdog = (from: number): NodeJS.Timeout => setTimeout(() => lose(`not renewed for ${ttl} ms`), Math.max(0, from + ttl - performance.now())).unref();
    let silence = watchdog(sentAt);
    const renew = async (): Promise<void> => {
      const started = performance.now();
      try {
        const next = await kv.update(key, value, held.revision, REQUEST_TIMEOUT);
        if (held.abandoned || lost.signal.aborted) return;
        held.revision = next;
        clearTimeout(silence);
        silence = watchdog(started);
      } catch (err) {
        if (held.abandoned || lost.signal.aborted) return;
        if (WRONG_LAST_SEQUENCE.has((err as { code?: number }).code ?? 0)) lose("it was taken over");
        // Otherwise NATS is unreachable: the next renewal tries again, the watchdog ends it.
      }
    };
    const held: Held = {
      key,
      revision,
      renewal: setInterval(() => {
        if (!held.renewing) held.renewing = renew().finally(() => (held.renewing = undefined));
      }, ttl / 3),
      abandoned: false,
    };
    held.renewal.unref();
    this.held.add(held);
    return {
      id,
      token: BigInt(revision),
      lost: lost.signal,
      unlock: async () => {
        clearTimeout(silence);
        await this.release(kv, held);
      },
    };
  }

  private async release(kv: KV, held: Held): Promise<void> {
    clearInterval(held.renewal);
    this.held.delete(held);
    if (held.abandoned) return;
    held.abandoned = true;
    await held.renewing;
    await kv.delete(held.key, { previousSeq: held.revision }).catch(() => {});
  }

  private async open(): Promise<Connection> {
    const jetstream = await loadDriver<JetStreamDriver>("@nats-io/jetstream", "nats sync");
    const { Kvm } = await loadDriver<KvDriver>("@nats-io/kv", "nats sync");
    const handle = await openNatsConnection(
      { ...this.options, servers: this.servers },
      {
        plugin: "nats sync",
        name: "ts-micro sync",
        timeout: REQUEST_TIMEOUT,
        onDisconnect: () => (this.connected = false),
        onReconnect: () => (this.connected = true),
      },
    );
    this.connected = true;
    try {
      const js = jetstream.jetstream(handle.nc, { timeout: REQUEST_TIMEOUT });
      const kv = await new Kvm(js).create(this.bucket, { history: 1, description: "ts-micro locks and elections" });
      return { handle, kv };
    } catch (err) {
      await handle.release();
      throw err;
    }
  }
}

/** The ttl the holder wrote with its lock (the default if the value is not ours). */
function holderTtl(value: string): number {
  try {
    const ttl = (JSON.parse(value) as { ttl?: unknown }).ttl;
    return typeof ttl === "number" && ttl > 0 ? ttl : DEFAULT_LOCK_TTL;
  } catch {
    return DEFAULT_LOCK_TTL;
  }
}
