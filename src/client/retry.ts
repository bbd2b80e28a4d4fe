/**
 * How a client spaces its retries and how many it allows itself. Backoff spreads the retries of
 * many callers over time (jitter keeps them from arriving in lockstep); the budget caps retries at
 * a share of the calls made, so that when a service is down its callers do not multiply its load
 * by the number of attempts just as it tries to recover.
 */

export interface BackoffOptions {
  /** Wait before the second retry, in ms, doubling for each retry after it (default 100). */
  base?: number;
  /** Longest wait, in ms (default 2 s). */
  max?: number;
  /**
   * Share of each wait drawn at random, 0…1 (default 0.5: between half and all of it), so that
   * callers that failed together do not retry together.
   */
  jitter?: number;
}

/**
 * Exponential backoff with jitter: nothing before the first retry (it goes to another node),
 * then `base`, 2 × `base`, 4 × `base` … up to `max`, each shortened by up to `jitter` of itself.
 */
export function exponentialBackoff(options: BackoffOptions = {}): (attempt: number) => number {
  const base = options.base ?? 100;
  const max = options.max ?? 2_000;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  return (attempt) => {
    if (attempt <= 1) return 0;
    const wait = Math.min(max, base * 2 ** (attempt - 2));
    return wait * (1 - jitter * Math.random());
  };
}

export interface RetryBudgetOptions {
  /** Retries allowed as a share of the calls made in `window` (default 0.2; 0 with no minimum: none). */
  ratio?: number;
  /** Retries always allowed per second, however few calls are made (default 10). */
  minPerSecond?: number;
  /** The window calls and retries are counted over, in ms (default 10 s). */
  window?: number;
  /** The time in ms (default Date.now); tests pass a clock they move by hand. */
  clock?: () => number;
}

/** Counts over a sliding window, kept as ten slices so that old counts fall away in steps. */
const SLICES = 10;

/**
 * A retry budget (as Finagle's): a retry may go ahead while the retries of the last `window` stay
 * within `ratio` × the calls of that window plus `minPerSecond` × the window's seconds. During an
 * outage most calls fail and want a retry; the budget lets a fifth of them have one instead of
 * every one having three.
 */
export class RetryBudget {
  private readonly ratio: number;
  private readonly floor: number;
  private readonly slice: number;
  private readonly clock: () => number;
  private readonly calls = new Float64Array(SLICES);
  private readonly retries = new Float64Array(SLICES);
  /** The slice counted into now, as a number of slices since the epoch. */
  private current = 0;
  /** Retries refused since the budget was created. */
  refused = 0;

  constructor(options: RetryBudgetOptions = {}) {
    const window = options.window ?? 10_000;
    this.ratio = options.ratio ?? 0.2;
    this.floor = (options.minPerSecond ?? 10) * (window / 1_000);
    this.slice = window / SLICES;
    this.clock = options.clock ?? Date.now;
  }

  /** Counts a call (its first attempt). */
  call(): void {
    this.calls[this.advance()]++;
  }

  /** Takes one retry from the budget; false (and counted as refused) when it is spent. */
  retry(): boolean {
    const slot = this.advance();
    let calls = 0;
    let retries = 0;
    for (let i = 0; i < SLICES; i++) {
      calls += this.calls[i];
      retries += this.retries[i];
    }
    if (retries + 1 > this.ratio * calls + this.floor) {
      this.refused++;
      return false;
    }
    this.retries[slot]++;
    return true;
  }

  /** The slot for now, clearing the slices that fell out of the window since the last count. */
  private advance(): number {
    const now = Math.floor(this.clock() / this.slice);
    if (now !== this.current) {
      const stale = Math.min(SLICES, now - this.current);
      for (let i = 1; i <= stale; i++) {
        const slot = (this.current + i) % SLICES;
        this.calls[slot] = 0;
        this.retries[slot] = 0;
      }
      this.current = now;
    }
    return now % SLICES;
  }
}
