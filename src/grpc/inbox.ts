/**
 * Messages received on a gRPC stream, waiting for recv(): the reading half both sides share.
 * Past `high` queued messages `pause` is called (the HTTP/2 stream stops reading, so its flow
 * control window closes and the peer waits); `resume` once recv() has taken them down to `low`.
 */
export class Inbox<T> {
  private paused = false;

  constructor(
    private readonly pause: () => void = () => {},
    private readonly resume: () => void = () => {},
    private readonly high = 64,
    private readonly low = 16,
  ) {}

  private readonly queue: T[] = [];
  private waiting: { resolve: (value: T | undefined) => void; reject: (err: unknown) => void } | undefined;
  private ended = false;
  private error: unknown;

  push(item: T): void {
    if (this.ended) return;
    const waiter = this.waiting;
    if (waiter) {
      this.waiting = undefined;
      waiter.resolve(item);
    } else {
      this.queue.push(item);
      if (!this.paused && this.queue.length >= this.high) {
        this.paused = true;
        this.pause();
      }
    }
  }

  /** The peer finished sending: recv() resolves undefined once the queue is empty. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    const waiter = this.waiting;
    this.waiting = undefined;
    waiter?.resolve(undefined);
  }

  /** The stream failed: recv() rejects with `err` once the queue is empty (messages that arrived are still read). */
  fail(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = err;
    const waiter = this.waiting;
    this.waiting = undefined;
    waiter?.reject(err);
  }

  get closed(): boolean {
    return this.ended;
  }

  recv(): Promise<T | undefined> {
    if (this.queue.length > 0) {
      const item = this.queue.shift();
      if (this.paused && this.queue.length <= this.low) {
        this.paused = false;
        this.resume();
      }
      return Promise.resolve(item);
    }
    if (this.ended) return this.error === undefined ? Promise.resolve(undefined) : Promise.reject(this.error);
    if (this.waiting) return Promise.reject(new Error("recv() called again before the previous one resolved"));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }
}
