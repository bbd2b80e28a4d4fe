/**
 * A client connection's unary calls in flight, for transports that multiplex them (mux, NATS):
 * each call's promise callbacks, its deadline (in shared 5 ms buckets) and the caller's
 * AbortSignal. The transport decides what a timeout or a cancellation puts on the wire.
 */
import { ErrorId, MicroError } from "../../errors/errors.js";
import type { CallOptions, Message } from "../transport.js";
import { Deadlines } from "./deadlines.js";
import { IdTable } from "./id-table.js";

const CLIENT_ID = ErrorId.client;

export interface PendingCall {
  resolve(message: Message): void;
  reject(err: Error): void;
  /** The deadline bucket this call is in (see Deadlines), when it has a deadline. */
  bucket?: number;
  /** Milliseconds the caller allowed, for the timeout message. */
  wait?: number;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class PendingCalls {
  private readonly calls = new IdTable<PendingCall>();
  private readonly deadlines: Deadlines;

  /**
   * @param cancel settles call `id` with `err` and tells the server it was abandoned; called when
   *   its deadline passes (a 408) or the caller's signal fires (a 499).
   * @param timedOut runs after a deadline passed, to check that the peer is still there.
   */
  constructor(
    private readonly cancel: (id: number, err: MicroError) => void,
    timedOut: () => void,
  ) {
    this.deadlines = new Deadlines(
      (id) => {
        this.cancel(id, MicroError.timeout(CLIENT_ID, `call timeout: no response within ${this.calls.get(id)?.wait} ms`));
        timedOut();
      },
      (id, bucket) => this.calls.get(id)?.bucket === bucket,
    );
  }

  get size(): number {
    return this.calls.size;
  }

  /**
   * Registers call `id` with its deadline and signal. Returns the error to reject with instead
   * when the deadline has already passed or the signal has already fired (nothing registered).
   */
  add(id: number, options: CallOptions, resolve: PendingCall["resolve"], reject: PendingCall["reject"]): MicroError | undefined {
    // Every field from the start: one object shape, no property store added later.
    const pending: PendingCall = { resolve, reject, bucket: undefined, wait: undefined, signal: undefined, onAbort: undefined };
    if (options.deadline !== undefined) {
      const wait = options.deadline - Date.now();
      if (Number.isNaN(wait)) return new MicroError(CLIENT_ID, 400, "call deadline is not a number");
      if (wait <= 0) return MicroError.timeout(CLIENT_ID, "call timeout: deadline exceeded before the request was sent");
      pending.wait = wait;
      pending.bucket = this.deadlines.add(id, wait);
    }
    if (options.signal) {
      if (options.signal.aborted) {
        if (pending.bucket !== undefined) this.deadlines.clear(pending.bucket);
        return MicroError.from(options.signal.reason, CLIENT_ID, "call cancelled");
      }
      pending.signal = options.signal;
      pending.onAbort = () => this.cancel(id, new MicroError(CLIENT_ID, 499, "call cancelled"));
      options.signal.addEventListener("abort", pending.onAbort, { once: true });
    }
    this.calls.set(id, pending);
    return undefined;
  }

  /** Removes call `id` with its deadline and signal listener, and returns it for settling. */
  settle(id: number): PendingCall | undefined {
    const pending = this.calls.get(id);
    if (!pending) return undefined;
    this.calls.delete(id);
    if (pending.bucket !== undefined) this.deadlines.clear(pending.bucket);
    if (pending.onAbort) pending.signal!.removeEventListener("abort", pending.onAbort);
    return pending;
  }

  /** Settles every call with `err` (the connection is gone). */
  failAll(err: Error): void {
    for (const id of this.calls.keys()) this.settle(id)?.reject(err);
    // No timer is left holding the connection once its calls are over.
    this.deadlines.stop();
  }
}
