/**
 * The life of a stream, shared by every transport: a queue of received messages with one reader,
 * the two half-closes, failure, the deadline and the AbortSignal. A transport adds how messages,
 * ends and cancellations reach the wire, and its flow control (through onQueued / onTaken).
 */
import { ErrorId, MicroError } from "../../errors/errors.js";
import type { CallOptions, Message, TransportStream } from "../transport.js";

const ID = ErrorId.transport;

interface Waiter {
  resolve(message: Message | undefined): void;
  reject(err: Error): void;
}

export abstract class StreamBase implements TransportStream {
  private readonly inbound: Message[] = [];
  private reader: Waiter | undefined;
  protected remoteEnded = false;
  protected localEnded = false;
  protected failure: MicroError | undefined;
  private done = false;
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  abstract send(message: Message): Promise<void>;

  /** Puts this side's end (clean, or with an error string) on the wire. */
  protected abstract sendEnd(error: string | undefined): void;
  /** Tells the peer the stream is abandoned (a Cancel frame, or dropping the connection). */
  protected abstract sendCancel(err: MicroError): void;
  /** A message was queued because nobody was reading. */
  protected abstract onQueued(message: Message): void;
  /** The application took a message (`queued`: it had waited in the queue). */
  protected abstract onTaken(message: Message, queued: boolean): void;
  /** The stream is over in both directions: the connection can forget it. */
  protected abstract onFinished(): void;

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Ends the stream with 408 at `deadline` (ms since the epoch). */
  setDeadline(deadline: number): void {
    const expire = (): void => this.fail(MicroError.timeout(ErrorId.client, "stream deadline exceeded"), true);
    const wait = deadline - Date.now();
    if (wait <= 0) expire();
    else this.timer = setTimeout(expire, wait);
  }

  /** Applies a caller's call options: the deadline, and cancelling when their signal fires. */
  follow(options: CallOptions): void {
    if (options.deadline !== undefined) this.setDeadline(options.deadline);
    const signal = options.signal;
    if (!signal) return;
    if (signal.aborted) return this.cancel("stream cancelled");
    const onAbort = (): void => this.cancel("stream cancelled");
    signal.addEventListener("abort", onAbort, { once: true });
    this.signal.addEventListener("abort", () => signal.removeEventListener("abort", onAbort), { once: true });
  }

  recv(): Promise<Message | undefined> {
    const message = this.inbound.shift();
    if (message) {
      this.onTaken(message, true);
      return Promise.resolve(message);
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.remoteEnded) return Promise.resolve(undefined);
    if (this.reader) return Promise.reject(new MicroError(ID, 500, "recv() called again before the previous one resolved"));
    return new Promise((resolve, reject) => (this.reader = { resolve, reject }));
  }

  end(error?: string): void {
    if (this.localEnded || this.failure) return;
    this.localEnded = true;
    this.sendEnd(error);
    if (error !== undefined) this.finish(MicroError.parse(error));
    else if (this.remoteEnded) this.finish(undefined);
  }

  cancel(reason = "stream cancelled"): void {
    this.fail(new MicroError(ID, 499, reason), true);
  }

  /** The connection is gone: everything pending fails. */
  lost(reason: string, code = 503): void {
    this.fail(new MicroError(ID, code, reason), false);
  }

  /** A message from the peer: to the waiting reader, or into the queue. */
  protected receive(message: Message): void {
    if (this.remoteEnded || this.failure) return;
    const reader = this.reader;
    if (reader) {
      this.reader = undefined;
      this.onTaken(message, false);
      return reader.resolve(message);
    }
    this.inbound.push(message);
    this.onQueued(message);
  }

  /** The peer ended its side, cleanly or with an error string. */
  protected remoteEnd(error: string | undefined): void {
    if (this.remoteEnded) return;
    this.remoteEnded = true;
    if (error !== undefined) return this.finish(MicroError.parse(error));
    if (this.reader && this.inbound.length === 0) {
      const reader = this.reader;
      this.reader = undefined;
      reader.resolve(undefined);
    }
    if (this.localEnded) this.finish(undefined);
  }

  /**
   * Ends the stream with `err`, telling the peer when it does not know yet. The failure is
   * recorded first: telling the peer may drop a connection, whose loss must not replace `err`.
   */
  protected fail(err: MicroError, tellPeer: boolean): void {
    if (this.failure || (this.localEnded && this.remoteEnded)) return;
    this.finish(err);
    if (tellPeer) this.sendCancel(err);
  }

  /** The stream is over: wake everyone, fire the signal on failure, let the connection forget it. */
  private finish(err: MicroError | undefined): void {
    if (this.timer) clearTimeout(this.timer);
    if (err && !this.failure) {
      this.failure = err;
      // Messages already received stay readable; the error surfaces after them.
      const reader = this.reader;
      this.reader = undefined;
      reader?.reject(err);
      if (!this.controller.signal.aborted) this.controller.abort(err);
    }
    if (!this.done) {
      this.done = true;
      this.onFinished();
    }
  }
}
