/**
 * A per-client rate limit (a token bucket per remote address): `rate` requests a second on
 * average, bursts of up to `burst`. Over it, a request gets 429 with Retry-After.
 */

export interface RateLimitOptions {
  /** Requests per second each client may make on average. */
  rate: number;
  /** Requests a client may make at once after being idle (default: `rate`, at least 1). */
  burst?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets kept before idle (full) ones are dropped. */
const MAX_CLIENTS = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: number;
  private readonly burst: number;

  constructor(options: RateLimitOptions) {
    if (!(options.rate > 0)) throw new RangeError("rateLimit.rate must be a positive number of requests per second");
    this.rate = options.rate / 1000;
    this.burst = Math.max(1, options.burst ?? options.rate);
  }

  /** 0 when `client` may make a request now (taking a token), else the seconds until it may. */
  take(client: string, now = Date.now()): number {
    let bucket = this.buckets.get(client);
    if (!bucket) {
      if (this.buckets.size >= MAX_CLIENTS) this.prune(now);
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(client, bucket);
    } else {
      bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) * this.rate);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.rate / 1000);
  }

  /** Forgets clients whose buckets have refilled: they are as good as new. */
  private prune(now: number): void {
    for (const [client, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.rate >= this.burst) this.buckets.delete(client);
    }
  }
}
