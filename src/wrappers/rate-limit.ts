/**
 * Per-endpoint rate limits: a token bucket per endpoint, refilled at `rate` calls a second and
 * holding at most `burst`. A call that finds the bucket empty is refused at once with a 429 and a
 * `Retry-After` hint (when the next token comes), before its handler runs.
 */
import { RetryLaterError } from "../errors/errors.js";
import type { HandlerWrapper } from "../server/server.js";

export interface RateLimit {
  /** Calls allowed per second, on average. */
  rate: number;
  /** Calls allowed at once after a quiet spell (default: `rate`, at least 1). */
  burst?: number;
}

export interface RateLimitOptions {
  /** The id of the errors raised (the service's name). */
  service: string;
  /** The time in ms (default Date.now); tests pass a clock they move by hand. */
  clock?: () => number;
}

/** A token bucket: `take()` spends a token, or says how long until there is one. */
export class TokenBucket {
  private tokens: number;
  private updated: number;
  private readonly burst: number;
  private readonly perMs: number;

  constructor(
    limit: RateLimit,
    private readonly clock: () => number = Date.now,
  ) {
    if (!(limit.rate > 0)) throw new RangeError(`rate limit must be above 0 calls a second (got ${limit.rate})`);
    this.burst = Math.max(1, limit.burst ?? limit.rate);
    this.perMs = limit.rate / 1_000;
    this.tokens = this.burst;
    this.updated = clock();
  }

  /** 0 when a token was taken; otherwise the ms until one will be there (nothing taken). */
  take(): number {
    const now = this.clock();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.updated) * this.perMs);
    this.updated = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return (1 - this.tokens) / this.perMs;
  }
}

/**
 * A handler wrapper applying `limits`, keyed by endpoint (`Greeter.Hello`); the key `*` gives
 * every other endpoint a bucket of its own with that limit.
 */
export function rateLimit(limits: Readonly<Record<string, RateLimit>>, options: RateLimitOptions): HandlerWrapper {
  const buckets = new Map<string, TokenBucket>();
  const fallback = limits["*"];
  const bucketFor = (endpoint: string): TokenBucket | undefined => {
    let bucket = buckets.get(endpoint);
    if (bucket) return bucket;
    const limit = Object.hasOwn(limits, endpoint) ? limits[endpoint] : fallback;
    if (!limit) return undefined;
    bucket = new TokenBucket(limit, options.clock);
    buckets.set(endpoint, bucket);
    return bucket;
  };
  for (const limit of Object.values(limits)) new TokenBucket(limit); // refuse a bad limit at start, not on the first call
  return (next) => (request, ctx) => {
    // The Debug handler answers health probes: never limited.
    const bucket = request.endpoint.startsWith("Debug.") ? undefined : bucketFor(request.endpoint);
    const wait = bucket ? bucket.take() : 0;
    if (wait === 0) return next(request, ctx);
    return Promise.reject(new RetryLaterError(options.service, 429, `${request.endpoint}: rate limit exceeded; retry in ${Math.ceil(wait)} ms`, wait));
  };
}
