import type { WatchEvent, Watcher } from "./registry.js";

/**
 * The Watcher every implementation hands out: events are pushed in, consumers pull them with
 * `next()` or `for await`. Unread events queue up (bounded: the oldest are dropped past `limit`,
 * which a watcher that never reads deserves).
 */
export class WatchQueue implements Watcher {
  private readonly events: WatchEvent[] = [];
  private readonly waiting: Array<(result: IteratorResult<WatchEvent>) => void> = [];
  private stopped = false;

  constructor(
    private readonly onStop: () => void = () => {},
    private readonly limit = 10_000,
  ) {}

  push(event: WatchEvent): void {
    if (this.stopped) return;
    const waiter = this.waiting.shift();
    if (waiter) waiter({ value: event, done: false });
    else {
      this.events.push(event);
      if (this.events.length > this.limit) this.events.shift();
    }
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    const event = this.events.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.stopped) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const waiter of this.waiting.splice(0)) waiter({ value: undefined, done: true });
    this.onStop();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return {
      next: () => this.next(),
      return: async () => {
        this.stop();
        return { value: undefined, done: true };
      },
    };
  }
}
