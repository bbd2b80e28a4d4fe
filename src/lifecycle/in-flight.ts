/**
 * Work in flight, counted so that a stopping owner can wait for it: the server's calls, a
 * service's subscriber handlers, the HTTP broker's deliveries. Stopping is "refuse new work,
 * then wait until `drained()`", with a bound so that one stuck handler cannot hold a shutdown.
 */
export class InFlight {
  private count = 0;
  private waiters: Array<() => void> = [];

  /** How much work is in flight. */
  get size(): number {
    return this.count;
  }

  begin(): void {
    this.count++;
  }

  end(): void {
    if (--this.count === 0 && this.waiters.length > 0) for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves true once nothing is in flight, or false after `timeout` ms. */
  drained(timeout: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeout);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
