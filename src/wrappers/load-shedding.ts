/**
 * Server load shedding: at most `concurrency` calls run at once, at most `queue` more wait for a
 * slot, and any call beyond that is refused at once with a 503 and a `Retry-After` hint, before
 * its handler runs. A server that queues without bound under overload answers everything late
 * and grows until it dies; one that sheds answers what it can take on time and tells the rest
 * to go elsewhere (the client retries an idempotent call on another node) or come back later.
 *
 * Streams are not counted (one may rightly stay open for hours), nor is the Debug handler, so
 * health probes still answer while the node sheds calls.
 */
import { MicroError, RetryLaterError } from "../errors/errors.js";
import type { Context } from "../metadata/context.js";
import type { HandlerFunc, HandlerWrapper, ServerRequest } from "../server/server.js";

export interface ConcurrencyLimitOptions {
  /** Calls handled at once. */
  concurrency: number;
  /** Calls waiting for a slot beyond those (default 0: refuse as soon as every slot is taken). */
  queue?: number;
  /** The `Retry-After` hint sent with a refusal, in ms (default 1 s). */
  retryAfter?: number;
  /** The id of the errors raised (the service's name). */
  service: string;
  /** Endpoints never limited (default: those of the Debug handler). */
  exempt?: (endpoint: string) => boolean;
}

/** A call waiting for a slot. */
interface Waiter {
  start(): void;
  /** Set when its caller gave up while it waited: skipped when its turn comes. */
  gone: boolean;
}

const debugEndpoint = (endpoint: string): boolean => endpoint.startsWith("Debug.");

export class ConcurrencyLimit {
  private running = 0;
  private waiters: Waiter[] = [];
  private head = 0;
  private waitingCount = 0;
  /** Calls refused since the server started. */
  shed = 0;
  private readonly limit: number;
  private readonly queueLimit: number;
  private readonly retryAfter: number;
  private readonly exempt: (endpoint: string) => boolean;
  /** The one refusal, made once: an Error captures a stack trace when made, the costliest part of refusing. */
  private readonly refusal: RetryLaterError;

  constructor(private readonly options: ConcurrencyLimitOptions) {
    if (!(options.concurrency >= 1)) throw new RangeError(`concurrency limit must be at least 1 (got ${options.concurrency})`);
    this.limit = options.concurrency;
    this.queueLimit = Math.max(0, options.queue ?? 0);
    this.retryAfter = options.retryAfter ?? 1_000;
    this.exempt = options.exempt ?? debugEndpoint;
    this.refusal = new RetryLaterError(
      options.service,
      503,
      `${options.service} is overloaded: ${this.limit} calls running and ${this.queueLimit} waiting; try another node or retry later`,
      this.retryAfter,
    );
  }

  /** Calls running now, and waiting for a slot. */
  get active(): number {
    return this.running;
  }
  get waiting(): number {
    return this.waitingCount;
  }

  /**
   * The early check (the server's `admit`): a call that would be shed is refused before its body
   * is decoded and before any wrapper runs. The wrapper's own check, in the same tick, then
   * agrees with it for every call let through.
   */
  readonly admit = (endpoint: string): RetryLaterError | undefined => {
    if (this.running < this.limit || this.waitingCount < this.queueLimit || this.exempt(endpoint)) return undefined;
    this.shed++;
    return this.refusal;
  };

  readonly wrapper: HandlerWrapper = (next) => (request, ctx) => {
    if (request.stream || this.exempt(request.endpoint)) return next(request, ctx);
    if (this.running < this.limit) {
      this.running++;
      return this.run(next, request, ctx);
    }
    if (this.waitingCount < this.queueLimit) return this.wait(next, request, ctx);
    this.shed++;
    return Promise.reject(this.refusal);
  };

  /** Runs a call that holds a slot, and hands the slot on when it ends. */
  private run(next: HandlerFunc, request: ServerRequest, ctx: Context): Promise<unknown> {
    let result: Promise<unknown>;
    try {
      result = next(request, ctx);
    } catch (err) {
      result = Promise.reject(err);
    }
    return result.then(this.releaseWith, this.releaseThrowing);
  }

  // Made once, not two closures per call: they need nothing of the call.
  private readonly releaseWith = (value: unknown): unknown => {
    this.release();
    return value;
  };
  private readonly releaseThrowing = (err: unknown): never => {
    this.release();
    throw err;
  };

  /** Queues a call until a slot is handed to it, or its caller gives up (its deadline passes). */
  private wait(next: HandlerFunc, request: ServerRequest, ctx: Context): Promise<unknown> {
    this.waitingCount++;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        waiter.gone = true;
        this.waitingCount--;
        reject(MicroError.timeout(this.options.service, `${request.endpoint}: the caller's deadline passed while the call waited for a slot`));
      };
      const waiter: Waiter = {
        gone: false,
        start: () => {
          ctx.signal.removeEventListener("abort", onAbort);
          this.waitingCount--;
          this.run(next, request, ctx).then(resolve, reject);
        },
      };
      if (ctx.signal.aborted) return onAbort();
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** A call ended: its slot goes to the first caller still waiting, else it is freed. */
  private release(): void {
    for (;;) {
      const waiter = this.shift();
      if (!waiter) break;
      if (!waiter.gone) return waiter.start();
    }
    this.running--;
  }

  private shift(): Waiter | undefined {
    if (this.head === this.waiters.length) return undefined;
    const waiter = this.waiters[this.head++];
    // A FIFO with a moving head (Array.shift is O(n)); compacted now and then.
    if (this.head === this.waiters.length || this.head > 1_024) {
      this.waiters = this.waiters.slice(this.head);
      this.head = 0;
    }
    return waiter;
  }
}
