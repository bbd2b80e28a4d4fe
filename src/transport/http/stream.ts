/**
 * One stream over Go Micro's HTTP transport, the same on both ends. Every message is one HTTP
 * message (a request from the client, a response from the server) carrying `Micro-Stream`; the
 * end of a side is a message with `Micro-Error: EOS` and an empty body, a failure one with the
 * error in `Micro-Error`.
 *
 * HTTP/1.1 has no per-stream flow control, so the connection's TCP window is the flow control: a
 * receiver that falls `window` bytes behind stops reading the socket, and the sender's writes
 * wait for the socket to drain.
 */
import { MicroError } from "../../errors/errors.js";
import type { Message, TransportStream } from "../transport.js";

/** Go Micro's end-of-stream marker in `Micro-Error`. */
export const EOS = "EOS";

const ID = "go.micro.transport";

/** How a stream reaches its connection. */
export interface StreamWire {
  /** Writes one message; resolves when the socket can take more. */
  write(message: Message): Promise<void>;
  /** Stops / restarts reading the socket (back pressure on the sender). */
  pause(): void;
  resume(): void;
  /** Drops the connection (cancellation: HTTP has no other way to tell the peer). */
  abort(): void;
  /** The stream is over in both directions. */
  finished(): void;
}

interface Waiter {
  resolve(message: Message | undefined): void;
  reject(err: Error): void;
}

export class HttpStream implements TransportStream {
  private readonly inbound: Message[] = [];
  private inboundBytes = 0;
  private paused = false;
  private reader: Waiter | undefined;
  private remoteEnded = false;
  private localEnded = false;
  private failure: MicroError | undefined;
  private done = false;
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;

  constructor(
    private readonly wire: StreamWire,
    private readonly window: number,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Ends the stream with 408 at `deadline` (ms since the epoch). */
  setDeadline(deadline: number): void {
    const expire = (): void => this.abort(MicroError.timeout("go.micro.client", "stream deadline exceeded"));
    const wait = deadline - Date.now();
    if (wait <= 0) expire();
    else this.timer = setTimeout(expire, wait);
  }

  async send(message: Message): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.localEnded) throw new MicroError(ID, 500, "send after the stream's sending side ended");
    if (message.header["Micro-Error"] !== undefined) throw new TypeError("stream messages cannot carry Micro-Error; use end(error)");
    await this.wire.write(message);
    // A socket that always takes more never makes `send` wait, and a tight send loop would then
    // starve the event loop (a cancellation could not even arrive): yield now and then.
    if (++this.sent % 32 === 0) await new Promise((resolve) => setImmediate(resolve));
  }

  recv(): Promise<Message | undefined> {
    const message = this.inbound.shift();
    if (message) {
      this.consumed(message);
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
    void this.wire.write({ header: { "Micro-Error": error ?? EOS }, body: new Uint8Array(0) }).catch(() => {});
    if (error !== undefined) this.finish(MicroError.parse(error));
    else if (this.remoteEnded) this.finish(undefined);
  }

  cancel(reason = "stream cancelled"): void {
    this.abort(new MicroError(ID, 499, reason));
  }

  /** A message from the peer. `Micro-Error` ends the peer's side: EOS cleanly, anything else with that error. */
  deliver(message: Message): void {
    if (this.remoteEnded || this.failure) return;
    const error = message.header["Micro-Error"];
    if (error !== undefined) return this.remoteEnd(error === EOS ? undefined : error);
    if (this.reader) {
      const reader = this.reader;
      this.reader = undefined;
      return reader.resolve(message);
    }
    this.inbound.push(message);
    this.inboundBytes += message.body.length;
    if (!this.paused && this.inboundBytes > this.window) {
      this.paused = true;
      this.wire.pause();
    }
  }

  /** The connection is gone. */
  lost(reason: string, code = 503): void {
    if (this.localEnded && this.remoteEnded) return;
    this.finish(new MicroError(ID, code, reason));
  }

  private remoteEnd(error: string | undefined): void {
    this.remoteEnded = true;
    if (error !== undefined) return this.finish(MicroError.parse(error));
    if (this.reader) {
      const reader = this.reader;
      this.reader = undefined;
      reader.resolve(undefined);
    }
    if (this.localEnded) this.finish(undefined);
  }

  private consumed(message: Message): void {
    this.inboundBytes -= message.body.length;
    if (this.paused && this.inboundBytes <= this.window / 2) {
      this.paused = false;
      this.wire.resume();
    }
  }

  private abort(err: MicroError): void {
    if (this.failure || (this.localEnded && this.remoteEnded)) return;
    this.finish(err);
    this.wire.abort();
  }

  /** The stream is over: wake everyone, fire the signal on failure, let the connection forget it. */
  private finish(err: MicroError | undefined): void {
    if (this.timer) clearTimeout(this.timer);
    if (err && !this.failure) {
      this.failure = err;
      // Messages already received stay readable; the error surfaces after them.
      if (this.reader) {
        const reader = this.reader;
        this.reader = undefined;
        reader.reject(err);
      }
      if (!this.controller.signal.aborted) this.controller.abort(err);
    }
    if (!this.done) {
      this.done = true;
      this.wire.finished();
    }
  }
}
