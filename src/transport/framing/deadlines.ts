/**
 * Deadlines for many short calls without a timer each: calls are grouped into buckets of
 * `resolution` ms, and one timer, armed for the earliest bucket, expires the calls of every
 * bucket that is due. A deadline fires at most `resolution` ms late (plus the timer's own lag).
 *
 * Arming a Node timer costs more than the rest of a call's bookkeeping (a timer list, its place
 * in the timers' priority queue), and clearing one nearly as much. With a timer per bucket, a
 * lone caller (concurrency 1) paid both on every call: its call was alone in its bucket, so the
 * bucket and its timer were made on send and dropped on the answer. Here the timer stays armed
 * when its bucket empties and is only moved for a bucket due sooner.
 *
 * For the same caller, a bucket is not made and dropped per call either: buckets are plain
 * arrays of ids with a count of those still armed (a Set or Map emptied by its last delete
 * reallocates its table, a few hundred bytes of garbage per call), and the newest bucket, where
 * the next calls land, is kept while empty. A cleared id stays in its array until the bucket
 * empties (then all go at once) or, in a bucket that never empties, until it is compacted; so
 * whether an id is still armed there is asked of the owner (`armed`) before it is expired.
 *
 * Deadlines come in as the ms left (the caller has read the wall clock for its own checks; one
 * clock read less per call) and are kept on the monotonic clock (`performance.now()`), as a Node
 * timer is: a wall clock stepped back (NTP, a resumed VM) must not hold calls past their timeout.
 */
interface Bucket {
  /**
   * Ids added to this bucket, in `ids[0, size)`; cleared ones stay until the bucket empties or
   * is compacted. An emptied bucket only resets `size`: truncating the array would drop its
   * backing store, and the next call would allocate another.
   */
  ids: number[];
  size: number;
  /** How many of them are still armed. */
  live: number;
}

/** A bucket holding this many more ids than twice its live ones is compacted on the next add. */
const COMPACT_SLACK = 64;

export class Deadlines {
  /** Buckets by the time (ms on the monotonic clock) at which they are due. */
  private readonly buckets = new Map<number, Bucket>();
  /** The bucket made last, kept while empty: the next calls most likely land in it. */
  private newest = Number.NaN;
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (Infinity when none is armed). */
  private timerAt = Infinity;

  /**
   * @param expire called for each key whose deadline passed.
   * @param armed whether `key` is still armed in bucket `at` (added there and not yet cleared).
   */
  constructor(
    private readonly expire: (key: number) => void,
    private readonly armed: (key: number, at: number) => boolean,
    private readonly resolution = 5,
  ) {}

  /** Arms a deadline `wait` ms from now for `key`; returns the bucket to pass to `clear`. */
  add(key: number, wait: number): number {
    const due = performance.now() + wait;
    const at = Math.ceil(due / this.resolution) * this.resolution;
    let bucket = this.buckets.get(at);
    if (!bucket) bucket = this.open(at);
    else if (bucket.size >= 2 * bucket.live + COMPACT_SLACK) this.compact(bucket, at);
    bucket.ids[bucket.size++] = key;
    bucket.live++;
    return at;
  }

  /** Disarms one key of bucket `at` (the owner knows which: it answers `armed`). */
  clear(at: number): void {
    const bucket = this.buckets.get(at);
    if (!bucket || --bucket.live > 0) return;
    bucket.size = 0; // none of them is armed any more
    if (at !== this.newest) this.buckets.delete(at);
  }

  /** Drops the cleared ids of bucket `at`, in place. */
  private compact(bucket: Bucket, at: number): void {
    const ids = bucket.ids;
    let kept = 0;
    for (let i = 0; i < bucket.size; i++) if (this.armed(ids[i], at)) ids[kept++] = ids[i];
    bucket.size = kept;
  }

  /** A new bucket; the previous newest goes if it is empty. */
  private open(at: number): Bucket {
    const previous = this.buckets.get(this.newest);
    if (previous && previous.live === 0) this.buckets.delete(this.newest);
    const bucket: Bucket = { ids: [], size: 0, live: 0 };
    this.buckets.set(at, bucket);
    this.newest = at;
    if (at < this.timerAt) this.arm(at);
    return bucket;
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.fire, Math.max(0, at - performance.now())).unref();
  }

  /** Drops every deadline and the timer (the owner's calls are all settled): nothing is kept alive. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    this.buckets.clear();
    this.newest = Number.NaN;
  }

  /**
   * Expires the armed keys of every bucket that is due and re-arms for the earliest left. It
   * looks at every bucket, but only buckets with calls in flight (and the newest) exist, and it
   * runs once per due bucket at most.
   */
  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = performance.now();
    const due: Array<[number, Bucket]> = [];
    let next = Infinity;
    for (const [at, bucket] of this.buckets) {
      if (at <= now) due.push([at, bucket]);
      else if (at < next) next = at;
    }
    for (const [at] of due) this.buckets.delete(at);
    let failure: unknown;
    for (const [at, bucket] of due) {
      for (let i = 0; i < bucket.size; i++) {
        if (!this.armed(bucket.ids[i], at)) continue;
        // One failing expiry must not leave the other due calls, or the timer, behind.
        try {
          this.expire(bucket.ids[i]);
        } catch (err) {
          failure ??= err;
        }
      }
    }
    // An expiry may have added a bucket, and armed the timer for it.
    if (next < this.timerAt) this.arm(next);
    if (failure !== undefined) throw failure;
  };
}
