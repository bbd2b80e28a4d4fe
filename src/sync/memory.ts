/**
 * In-process locks and elections. All MemorySync instances of a process share one lock table
 * (unless given their own), so they exclude each other as clients of one server would. A holder
 * renews its lock every ttl/3; a lock not renewed for its TTL is taken from its holder (whose
 * `lost` fires) and given to the next waiter. Tokens come from one counter per table, so they
 * strictly increase for every id.
 */
import { MicroError } from "../errors/errors.js";
import {
  checkId,
  checkTimes,
  type LeaderOptions,
  type Leadership,
  type Lock,
  type LockOptions,
  leadershipOf,
  SYNC_ERROR_ID,
  type Sync,
  waitDeadline,
} from "./sync.js";

interface Holder {
  token: bigint;
  lost: AbortController;
  expiry: NodeJS.Timeout;
}

/** The locks of one "server": who holds each id, and who waits for it. */
export class MemoryLockTable {
  private readonly holders = new Map<string, Holder>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private lastToken = 0n;

  /** Takes `id` if it is free: the new holder's token, else undefined. */
  tryTake(id: string, ttl: number): Holder | undefined {
    if (this.holders.has(id)) return undefined;
    const token = ++this.lastToken;
    const holder: Holder = { token, lost: new AbortController(), expiry: this.expireAfter(id, token, ttl) };
    this.holders.set(id, holder);
    return holder;
  }

  /** Extends the holder's lease; false if `token` no longer holds `id`. */
  renew(id: string, token: bigint, ttl: number): boolean {
    const holder = this.holders.get(id);
    if (holder?.token !== token) return false;
    clearTimeout(holder.expiry);
    holder.expiry = this.expireAfter(id, token, ttl);
    return true;
  }

  /** Frees `id` if `token` still holds it; `lostReason` set means the holder lost it. */
  release(id: string, token: bigint, lostReason?: Error): void {
    const holder = this.holders.get(id);
    if (holder?.token !== token) return;
    clearTimeout(holder.expiry);
    this.holders.delete(id);
    if (lostReason) holder.lost.abort(lostReason);
    for (const wake of this.waiters.get(id) ?? []) wake();
  }

  /** Resolves when `id` may have become free, or rejects when `signal` aborts. */
  changed(id: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const set = this.waiters.get(id) ?? new Set<() => void>();
      this.waiters.set(id, set);
      const done = (): void => {
        set.delete(wake);
        if (set.size === 0) this.waiters.delete(id);
        signal.removeEventListener("abort", onAbort);
      };
      const wake = (): void => {
        done();
        resolve();
      };
      const onAbort = (): void => {
        done();
        reject(signal.reason);
      };
      set.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  private expireAfter(id: string, token: bigint, ttl: number): NodeJS.Timeout {
    const timer = setTimeout(
      () => this.release(id, token, MicroError.timeout(SYNC_ERROR_ID, `lock ${JSON.stringify(id)} expired: not renewed for ${ttl} ms`)),
      ttl,
    );
    timer.unref();
    return timer;
  }
}

const sharedTable = new MemoryLockTable();

export interface MemorySyncOptions {
  /** The table to lock in. Default: one shared by the whole process. */
  table?: MemoryLockTable;
}

export class MemorySync implements Sync {
  readonly name = "memory";
  private readonly table: MemoryLockTable;
  /** Held locks by token, with the renewal timer of each. */
  private readonly held = new Map<bigint, { id: string; renewal: NodeJS.Timeout }>();
  private readonly closing = new AbortController();

  constructor(options: MemorySyncOptions = {}) {
    this.table = options.table ?? sharedTable;
  }

  async lock(id: string, options: LockOptions = {}): Promise<Lock> {
    checkId(id);
    const ttl = checkTimes(options);
    this.assertOpen();
    const signal = options.signal ? AbortSignal.any([options.signal, this.closing.signal]) : this.closing.signal;
    const deadline = waitDeadline(id, { wait: options.wait, signal });
    try {
      for (;;) {
        const holder = this.table.tryTake(id, ttl);
        if (holder) return this.hold(id, holder, ttl);
        if (deadline.signal.aborted) throw deadline.signal.reason;
        await this.table.changed(id, deadline.signal);
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
    for (const [token, { id, renewal }] of this.held) {
      clearInterval(renewal);
      this.table.release(id, token);
    }
    this.held.clear();
  }

  /**
   * Stops renewing every held lock without releasing it, as a process that froze or died would:
   * each lock is lost once its TTL lapses. For tests of failover.
   */
  abandon(): void {
    for (const { renewal } of this.held.values()) clearInterval(renewal);
    this.held.clear();
  }

  private hold(id: string, holder: Holder, ttl: number): Lock {
    const renewal = setInterval(() => this.table.renew(id, holder.token, ttl), ttl / 3);
    renewal.unref();
    this.held.set(holder.token, { id, renewal });
    const forget = (): void => {
      clearInterval(renewal);
      this.held.delete(holder.token);
    };
    holder.lost.signal.addEventListener("abort", forget, { once: true });
    return {
      id,
      token: holder.token,
      lost: holder.lost.signal,
      unlock: async () => {
        forget();
        this.table.release(id, holder.token);
      },
    };
  }

  private assertOpen(): void {
    if (this.closing.signal.aborted) throw this.closing.signal.reason;
  }
}
