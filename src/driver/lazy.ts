/**
 * Plugins open their connection (or socket, or listener) on the first call that needs it, so
 * constructing one is synchronous and free, and a server that is down fails a call, not a
 * constructor.
 */

/** Runs `open` once; concurrent callers share it; a failure lets the next caller try again. */
export class Lazy<T> {
  private promise: Promise<T> | undefined;
  constructor(private readonly open: () => Promise<T>) {}

  get(): Promise<T> {
    this.promise ??= this.open().catch((err: unknown) => {
      this.promise = undefined;
      throw err;
    });
    return this.promise;
  }

  /** The value if it was opened, without opening it. */
  peek(): Promise<T> | undefined {
    return this.promise;
  }

  /** Forgets the value: the next get() opens again. */
  reset(): void {
    this.promise = undefined;
  }
}
