/**
 * Deadlines for many short calls without a timer each: calls are grouped into buckets of
 * `resolution` ms, and one timer per bucket expires the calls in it. At tens of thousands of
 * calls a second, creating and clearing a Node timer per call costs more than the call's own
 * bookkeeping; a deadline fires at most `resolution` ms late.
 */
export class Deadlines<K> {
  private readonly buckets = new Map<number, Set<K>>();

  constructor(
    private readonly expire: (key: K) => void,
    private readonly resolution = 5,
  ) {}

  /** Arms a deadline (ms since the epoch) for `key`; returns the bucket to pass to `clear`. */
  add(key: K, deadline: number): number {
    const bucket = Math.ceil(deadline / this.resolution) * this.resolution;
    let keys = this.buckets.get(bucket);
    if (!keys) {
      keys = new Set();
      this.buckets.set(bucket, keys);
      setTimeout(() => this.fire(bucket), Math.max(0, bucket - Date.now())).unref();
    }
    keys.add(key);
    return bucket;
  }

  clear(key: K, bucket: number): void {
    this.buckets.get(bucket)?.delete(key);
  }

  private fire(bucket: number): void {
    const keys = this.buckets.get(bucket);
    this.buckets.delete(bucket);
    if (keys) for (const key of keys) this.expire(key);
  }
}
