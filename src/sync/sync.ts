/**
 * The Sync contract: distributed locks and leader election (Go Micro's `sync.Sync`, typed and with
 * fencing tokens). A lock is held by one holder at a time across every process using the same
 * backend; it is held for `ttl` from the holder's last renewal, and implementations renew it while
 * the holder lives, so a holder that dies (or is cut off) loses it within its TTL.
 *
 * Every acquisition gets a fencing token that is strictly greater than every earlier token for the
 * same id. Pass it to the resource the lock protects and have that resource refuse smaller tokens:
 * that is what keeps a holder that paused past its TTL from doing harm.
 */
import { setTimeout as delay } from "node:timers/promises";
import { ErrorId, MicroError } from "../errors/errors.js";

/** Error id of errors raised by sync implementations. */
export const SYNC_ERROR_ID: string = ErrorId.sync;

/** Default lock TTL: a dead holder's lock is free again at most this long after its last renewal. */
export const DEFAULT_LOCK_TTL = 15_000;

/** Longest a single backend round trip may take before it counts as the backend being down. */
export const REQUEST_TIMEOUT = 5_000;

/** Longest lock id accepted (etcd and Redis take far more; this keeps keys readable and bounded). */
export const MAX_ID_LENGTH = 512;

export interface LockOptions {
  /** Milliseconds the lock outlives its holder's last renewal. Default 15 000. */
  ttl?: number;
  /** Milliseconds to wait for the lock before failing with LockTimeoutError. Default: wait forever. */
  wait?: number;
  /** Stops waiting (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface LeaderOptions {
  /** Milliseconds leadership outlives the leader's last renewal. Default 15 000. */
  ttl?: number;
  /** Stops campaigning (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** A held lock. */
export interface Lock {
  readonly id: string;
  /** Fencing token of this acquisition: strictly greater than every earlier one for this id. */
  readonly token: bigint;
  /** Aborts when the lock is lost without unlock() (its TTL lapsed, the backend was lost). */
  readonly lost: AbortSignal;
  /** Releases the lock. Safe to call twice, and after the lock was lost. */
  unlock(): Promise<void>;
}

/** This process's term as leader of an election. */
export interface Leadership {
  readonly id: string;
  /** Fencing token of this term: strictly greater than every earlier term's for this id. */
  readonly token: bigint;
  /** Aborts when leadership is lost without resign(). */
  readonly lost: AbortSignal;
  /** Steps down, so another candidate is elected. Safe to call twice. */
  resign(): Promise<void>;
}

export interface Sync {
  /** The implementation's name (`memory`, `etcd`, `redis`, `nats`). */
  readonly name: string;
  /** Acquires the lock `id`, waiting while another holder has it. */
  lock(id: string, options?: LockOptions): Promise<Lock>;
  /** Campaigns in the election `id`; resolves once this caller is the leader. */
  leader(id: string, options?: LeaderOptions): Promise<Leadership>;
  /** Releases every lock and leadership held through this instance and disconnects. */
  close(): Promise<void>;
}

/** `wait` passed before the lock was free (408, as a timed-out request). */
export class LockTimeoutError extends MicroError {
  constructor(id: string, wait: number) {
    super(SYNC_ERROR_ID, 408, `lock ${JSON.stringify(id)} not acquired within ${wait} ms`);
  }
}

/** Throws a 400 MicroError unless `id` is a usable lock or election id. */
export function checkId(id: string): void {
  if (typeof id !== "string" || id.length === 0) throw MicroError.badRequest(SYNC_ERROR_ID, "sync id must be a non-empty string");
  if (id.length > MAX_ID_LENGTH) {
    throw MicroError.badRequest(SYNC_ERROR_ID, `sync id is ${id.length} characters long; at most ${MAX_ID_LENGTH} are allowed`);
  }
}

/** Throws a 400 MicroError unless `ttl` (and `wait`, if given) are sane, and returns the TTL. */
export function checkTimes(options: { ttl?: number; wait?: number }): number {
  const ttl = options.ttl ?? DEFAULT_LOCK_TTL;
  if (!Number.isFinite(ttl) || ttl <= 0) throw MicroError.badRequest(SYNC_ERROR_ID, `sync ttl must be a positive number of milliseconds, got ${ttl}`);
  if (options.wait !== undefined && (!Number.isFinite(options.wait) || options.wait < 0)) {
    throw MicroError.badRequest(SYNC_ERROR_ID, `lock wait must be zero or a positive number of milliseconds, got ${options.wait}`);
  }
  return ttl;
}

/**
 * The end of waiting: an AbortSignal that fires with LockTimeoutError when `wait` passes, or with
 * the caller's own signal's reason. `dispose` clears the timer once the wait is over.
 */
export function waitDeadline(id: string, options: { wait?: number; signal?: AbortSignal }): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  const timer = options.wait === undefined ? undefined : setTimeout(() => controller.abort(new LockTimeoutError(id, options.wait!)), options.wait);
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    },
  };
}

/**
 * Waits about `pause` ms (jittered by ±50%, so contenders polling one lock spread out) before the
 * next attempt; rejects with the deadline's reason (timeout or the caller's abort) if it fires first.
 */
export async function pauseBeforeRetry(pause: number, deadline: AbortSignal): Promise<void> {
  await delay(pause * (0.5 + Math.random()), undefined, { signal: deadline }).catch(() => {
    throw deadline.reason;
  });
}

/**
 * `work`, unless `signal` aborts first (then its reason): a backend that is down must not hold a
 * caller past its `wait`. Errors other than MicroErrors become 503s naming `what` failed.
 */
export async function untilAborted<T>(work: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(isRequestTimeout(signal.reason) ? unavailable(signal.reason, what) : signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([
      work.catch((err: unknown) => Promise.reject(signal.aborted && !isRequestTimeout(signal.reason) ? signal.reason : unavailable(err, what))),
      aborted,
    ]);
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}

/**
 * `signal`, or a request timeout: one backend round trip is bounded by REQUEST_TIMEOUT rather
 * than by `wait`, so `wait: 0` still makes one attempt and `wait` is checked between attempts.
 */
export function forRequest(signal: AbortSignal): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT)]);
}

function isRequestTimeout(reason: unknown): boolean {
  return reason instanceof DOMException && reason.name === "TimeoutError";
}

/** A backend failure as a 503 MicroError (MicroErrors pass through). */
export function unavailable(err: unknown, what: string): MicroError {
  if (err instanceof MicroError) return err;
  return MicroError.unavailable(SYNC_ERROR_ID, `${what}: ${err instanceof Error ? err.message : String(err)}`);
}

/** A leadership term built on a lock: elections and locks share one mechanism in every backend. */
export function leadershipOf(lock: Lock): Leadership {
  return { id: lock.id, token: lock.token, lost: lock.lost, resign: () => lock.unlock() };
}
