/**
 * Deadlines for many short calls without a timer each: calls are grouped into buckets of
 * `resolution` ms, and one timer, armed for the earliest bucket, expires the calls of every
 * bucket that is due. A deadline fires at most `resolution` ms late (plus the timer's own lag).
 *
 * Arming a Node timer costs more than the rest of a call's bookkeeping (a timer list, its place
 * in the timers' priority queue, a libuv timer start), and clearing one nearly as much. With a
 * timer per bucket, a lone caller (concurrency 1) paid both on every call: its call was alone in
 * its bucket, so the bucket and its timer were made on send and dropped on the answer. Here the
 * timer stays armed when its bucket empties and is only moved for a bucket due sooner, so a
 * steady stream of calls with the same timeout arms it once per timeout, not once per call.
 * An emptied bucket's Set is kept for the next bucket: a lone caller allocates none.
 */
export class Deadlines {
  /** Ids by bucket (the time, in ms since the epoch, at which the bucket is due). */
  private readonly buckets = new Map<number, Set<number>>();
  /** An emptied bucket's Set, reused by the next new bucket. */
  private spare: Set<number> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (Infinity when none is armed). */
  private timerAt = Infinity;

  constructor(
    private readonly expire: (key: number) => void,
    private readonly resolution = 5,
  ) {}

  /** Arms a deadline (ms since the epoch) for `key`; returns the bucket to pass to `clear`. */
  add(key: number, deadline: number): number {
    const at = Math.ceil(deadline / this.resolution) * this.resolution;
    let bucket = this.buckets.get(at);
    if (!bucket) {
      bucket = this.spare ?? new Set();
      this.spare = undefined;
      this.buckets.set(at, bucket);
      if (at < this.timerAt) this.arm(at);
    }
    bucket.add(key);
    return at;
  }

  clear(key: number, at: number): void {
    const bucket = this.buckets.get(at);
    if (!bucket) return;
    bucket.delete(key);
    if (bucket.size > 0) return;
    // The timer stays: it finds nothing due, or re-arms for the next bucket, when it fires.
    this.buckets.delete(at);
    this.spare = bucket;
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.fire, Math.max(0, at - Date.now())).unref();
  }

  /**
   * Expires every bucket that is due and re-arms for the earliest left. It looks at every bucket,
   * but only buckets with calls in flight exist, and it runs once per due bucket at most.
   */
  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    const due: Set<number>[] = [];
    let next = Infinity;
    for (const [at, bucket] of this.buckets) {
      if (at <= now) {
        this.buckets.delete(at);
        due.push(bucket);
      } else if (at < next) {
        next = at;
      }
    }
    for (const bucket of due) for (const key of bucket) this.expire(key);
    // An expiry may have added a bucket, and armed the timer for it.
    if (next < this.timerAt) this.arm(next);
  };
}
