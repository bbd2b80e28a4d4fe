/** Per-tool rate limits: a token bucket per tool, full at start, refilled continuously. */
export class TokenBucket {
  private tokens: number;
  private updated = Date.now();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Takes a token if one is there. */
  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updated) / 1000) * this.rate);
    this.updated = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Buckets by key, made on first use from `limits(key)` (undefined: no limit for that key). */
export class RateLimits {
  private readonly buckets = new Map<string, TokenBucket | null>();

  constructor(private readonly limits: (key: string) => { rate: number; burst?: number } | undefined) {}

  take(key: string): boolean {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      const limit = this.limits(key);
      bucket = limit && limit.rate > 0 ? new TokenBucket(limit.rate, Math.max(1, limit.burst ?? Math.ceil(limit.rate))) : null;
      this.buckets.set(key, bucket);
    }
    return bucket === null || bucket.take();
  }
}
