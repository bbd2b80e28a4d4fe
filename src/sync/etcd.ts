/**
 * Locks and elections on etcd (`etcd3`, an optional peer dependency), with Go Micro's key layout
 * and etcd's own concurrency recipe, so that a Go Micro etcd lock on the same id excludes ours:
 *
 * - the id maps to `/micro/sync/<prefix + id, "/" replaced by "-">` (Go Micro's etcd sync);
 * - each acquisition grants a lease of the TTL (kept alive at TTL/3 while held) and writes
 *   `<key>/<lease id in hex>` on it; the key with the lowest create revision holds the lock, and
 *   every other waiter watches for the deletion of the key created just before its own (etcd's
 *   `concurrency.Mutex`); an election is the same with the candidate's id as value
 *   (`concurrency.Election`, as Go Micro campaigns with value = id);
 * - the fencing token is the holder key's create revision, which etcd only ever increases.
 *
 * A holder whose lease expires (its process died, or it was cut off from etcd for the TTL) loses
 * the key with it; the holder hears of it through the lease, and in any case its `lost` fires once
 * no keep-alive succeeded for a whole TTL. etcd rounds TTLs up to whole seconds (minimum about 2 s).
 */
import type { Etcd3, IKeyValue, Lease } from "etcd3";
import { loadDriver } from "../driver/driver.js";
import { checkEtcdTls, type EtcdTlsOptions, etcdCredentials, parseEtcdHosts } from "../driver/etcd.js";
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
  SYNC_ERROR_ID,
  type Sync,
  untilAborted,
  waitDeadline,
} from "./sync.js";

type EtcdDriver = typeof import("etcd3");

export type { EtcdTlsOptions } from "../driver/etcd.js";

export interface EtcdSyncOptions {
  /** etcd endpoints, `host[:port]` or `http://host:port`, comma-separated. Default `127.0.0.1:2379`. */
  hosts?: string | string[];
  /** Prepended to every id, as Go Micro's `sync.Prefix`. Default none. */
  prefix?: string;
  /** `ETCD_USERNAME` / `ETCD_PASSWORD` are used when this is not set, as the etcd registry does. */
  auth?: { username: string; password: string };
  /**
   * TLS (Go Micro's `sync.WithTLS`), as the etcd registry takes it: `ca` that signed etcd's
   * certificate, `cert` and `key` for an etcd that checks client certificates. With `tls`, hosts
   * written without a scheme are `https://`.
   */
  tls?: EtcdTlsOptions;
}

/** Go Micro's key for a lock or election id. */
export function syncKey(prefix: string, id: string): string {
  return `/micro/sync/${(prefix + id).replaceAll("/", "-")}`;
}

interface Held {
  lease: Lease;
  abandoned: boolean;
}

export class EtcdSync implements Sync {
  readonly name = "etcd";
  readonly hosts: string[];
  private readonly prefix: string;
  private readonly client = new Lazy(() => this.connect());
  private readonly held = new Set<Held>();
  private readonly closing = new AbortController();

  private readonly auth: { username: string; password: string } | undefined;
  private readonly tls: EtcdTlsOptions | undefined;

  constructor(options: EtcdSyncOptions = {}) {
    this.tls = checkEtcdTls(options.tls, "etcd sync");
    this.hosts = parseEtcdHosts(options.hosts, options.tls ? "https" : "http");
    this.prefix = options.prefix ?? "";
    const { ETCD_USERNAME: username, ETCD_PASSWORD: password } = process.env;
    this.auth = options.auth ?? (username && password ? { username, password } : undefined);
  }

  lock(id: string, options: LockOptions = {}): Promise<Lock> {
    return this.acquire(id, "", options);
  }

  async leader(id: string, options: LeaderOptions = {}): Promise<Leadership> {
    return leadershipOf(await this.acquire(id, id, { ttl: options.ttl, signal: options.signal }));
  }

  async close(): Promise<void> {
    this.closing.abort(MicroError.unavailable(SYNC_ERROR_ID, "sync closed"));
    await Promise.all([...this.held].map((held) => this.release(held)));
    const client = this.client.peek();
    this.client.reset();
    if (client) (await client.catch(() => undefined))?.close();
  }

  /**
   * Stops keeping every held lease alive without revoking it, as a frozen or killed process
   * would: each lock is lost once its TTL lapses. For tests of failover.
   */
  abandon(): void {
    for (const held of this.held) {
      held.abandoned = true;
      held.lease.release();
    }
    this.held.clear();
  }

  private async acquire(id: string, value: string, options: LockOptions): Promise<Lock> {
    checkId(id);
    const ttl = checkTimes(options);
    if (this.closing.signal.aborted) throw this.closing.signal.reason;
    const signal = options.signal ? AbortSignal.any([options.signal, this.closing.signal]) : this.closing.signal;
    const deadline = waitDeadline(id, { wait: options.wait, signal });
    const what = `etcd sync: lock ${JSON.stringify(id)}`;
    let client: Etcd3;
    try {
      client = await untilAborted(this.client.get(), forRequest(signal), what);
    } catch (err) {
      deadline.dispose();
      throw err;
    }
    const key = syncKey(this.prefix, id);
    // etcd leases count whole seconds; the driver keeps one alive every third of its TTL.
    const seconds = Math.max(1, Math.ceil(ttl / 1000));
    const lease = client.lease(seconds, { autoKeepAlive: true });
    const held: Held = { lease, abandoned: false };
    this.held.add(held);
    try {
      const leaseId = BigInt(await untilAborted(lease.grant(), forRequest(signal), what)).toString(16);
      const put = await untilAborted(lease.put(`${key}/${leaseId}`).value(value).exec(), forRequest(signal), what);
      const revision = BigInt(put.header.revision);
      await this.waitForPredecessors(client, `${key}/`, revision, { waiting: deadline.signal, request: signal, what });
      // Our key may have gone with the lease while we waited.
      if ((await untilAborted(client.get(`${key}/${leaseId}`).exec(), forRequest(signal), what)).kvs.length === 0) {
        throw MicroError.unavailable(SYNC_ERROR_ID, `lock ${JSON.stringify(id)}: lease expired while waiting`);
      }
      return this.hold(id, held, revision, seconds * 1000);
    } catch (err) {
      await this.release(held);
      throw err;
    } finally {
      deadline.dispose();
    }
  }

  /**
   * Returns once no key under `prefix` created before `revision` is left (etcd's waitDeletes).
   * Each read is bounded as a request; the waiting in between by `waiting` (the caller's wait).
   */
  private async waitForPredecessors(
    client: Etcd3,
    prefix: string,
    revision: bigint,
    signals: { waiting: AbortSignal; request: AbortSignal; what: string },
  ): Promise<void> {
    for (;;) {
      const read = client.getAll().prefix(prefix).sort("Create", "Ascend").exec();
      const range = await untilAborted(read, forRequest(signals.request), signals.what);
      const before = range.kvs.filter((kv: IKeyValue) => BigInt(kv.create_revision) < revision);
      if (before.length === 0) return;
      if (signals.waiting.aborted) throw signals.waiting.reason;
      const predecessor = before[before.length - 1];
      await untilAborted(this.deleted(client, predecessor.key, BigInt(range.header.revision) + 1n, signals.waiting), signals.waiting, signals.what);
    }
  }

  /** Resolves when `key` is deleted at or after `fromRevision`. */
  private async deleted(client: Etcd3, key: Buffer, fromRevision: bigint, signal: AbortSignal): Promise<void> {
    const watcher = await client.watch().key(key).startRevision(fromRevision.toString()).create();
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(signal.reason);
        if (signal.aborted) onAbort();
        signal.addEventListener("abort", onAbort, { once: true });
        watcher.once("delete", () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        });
      });
    } finally {
      await watcher.cancel().catch(() => {});
    }
  }

  private hold(id: string, held: Held, token: bigint, ttl: number): Lock {
    const lost = new AbortController();
    const lose = (reason: string): void => {
      clearTimeout(silence);
      if (!lost.signal.aborted) lost.abort(MicroError.unavailable(SYNC_ERROR_ID, `lock ${JSON.stringify(id)} lost: ${reason}`));
      this.held.delete(held);
    };
    // etcd may expire the lease once a whole TTL passed without a keep-alive reaching it.
    const watchdog = (): NodeJS.Timeout => setTimeout(() => lose(`no keep-alive succeeded for ${ttl} ms`), ttl).unref();
    let silence = watchdog();
    held.lease.on("keepaliveSucceeded", () => {
      clearTimeout(silence);
      if (!lost.signal.aborted) silence = watchdog();
    });
    held.lease.on("lost", (err) => lose(`lease lost (${err.message})`));
    return {
      id,
      token,
      lost: lost.signal,
      unlock: async () => {
        clearTimeout(silence);
        await this.release(held);
      },
    };
  }

  /** Revokes the lease, which deletes our key and lets the next waiter in. */
  private async release(held: Held): Promise<void> {
    this.held.delete(held);
    if (held.abandoned || held.lease.revoked()) return;
    held.abandoned = true;
    held.lease.removeAllListeners("keepaliveSucceeded");
    await held.lease.revoke().catch(() => {});
  }

  private async connect(): Promise<Etcd3> {
    const driver = await loadDriver<EtcdDriver>("etcd3", "etcd sync");
    return new driver.Etcd3({ hosts: this.hosts, auth: this.auth, credentials: this.tls && etcdCredentials(this.tls) });
  }
}
