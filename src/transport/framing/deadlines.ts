/**
 * Deadlines for many short calls without a timer each: calls are grouped into buckets of
 * `resolution` ms, and one timer per bucket expires the calls in it. At tens of thousands of
 * calls a second, creating and clearing a Node timer per call costs more than the call's own
 * bookkeeping; a deadline fires at most `resolution` ms late. A bucket whose calls all finished
 * is dropped with its timer at once, so only buckets with calls in flight stay alive; all but
 * the newest: one call at a time (each done in well under `resolution` ms) would otherwise arm
 * and clear a timer per call, so the newest bucket is kept, empty, until a newer one is made or
 * its timer fires.
 */
interface Bucket {
  keys: Set<number>;
  timer: NodeJS.Timeout;
}

/**
 * Deadlines of calls by id. A bucket lives a few ms and holds only ids, so plain Map and Set do
 * (the retention IdTable avoids needs a long-lived table holding call objects).
 */
export class Deadlines {
  private readonly buckets = new Map<number, Bucket>();
  /** The bucket made last, kept when it empties (see above). */
  private newest: number | undefined;

  constructor(
    private readonly expire: (key: number) => void,
    private readonly resolution = 5,
  ) {}

  /** Arms a deadline (ms since the epoch) for `key`; returns the bucket to pass to `clear`. */
  add(key: number, deadline: number): number {
    const at = Math.ceil(deadline / this.resolution) * this.resolution;
    let bucket = this.buckets.get(at);
    if (!bucket) {
      if (this.newest !== undefined) this.dropIfEmpty(this.newest);
      bucket = { keys: new Set(), timer: setTimeout(() => this.fire(at), Math.max(0, at - Date.now())).unref() };
      this.buckets.set(at, bucket);
      this.newest = at;
    }
    bucket.keys.add(key);
    return at;
  }

  clear(key: number, at: number): void {
    const bucket = this.buckets.get(at);
    if (!bucket) return;
    bucket.keys.delete(key);
    if (at !== this.newest) this.dropIfEmpty(at);
  }

  /** Buckets alive, with calls or not (for tests). */
  get bucketCount(): number {
    return this.buckets.size;
  }

  private dropIfEmpty(at: number): void {
    const bucket = this.buckets.get(at);
    if (!bucket || bucket.keys.size > 0) return;
    clearTimeout(bucket.timer);
    this.buckets.delete(at);
  }

  private fire(at: number): void {
    const bucket = this.buckets.get(at);
    this.buckets.delete(at);
    if (bucket) for (const key of bucket.keys) this.expire(key);
  }
}
