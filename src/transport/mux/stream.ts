/**
 * One stream on a mux connection, used the same way by client and server. Flow control is by
 * credit in bytes: each side may have at most `window` bytes of messages unread by the other; the
 * reader grants more (a Window frame) as the application consumes messages. A producer's `send`
 * therefore waits while its consumer is behind, and one slow stream never blocks the others.
 */
import { MicroError } from "../../errors/errors.js";
import type { Message, TransportStream } from "../transport.js";
import { encodeHeader, type Frame, frameSize, FrameType } from "./frame.js";

export const DEFAULT_STREAM_WINDOW = 1024 * 1024;

/** Bytes a message costs against the window; the overhead stops floods of empty messages. */
const cost = (message: { body: Uint8Array }): number => message.body.length + 64;

/** How a stream writes frames onto its connection. */
export interface StreamOutput {
  /** Largest frame the connection may send; a bigger message is refused with 413. */
  readonly maxFrameSize: number;
  frame(type: FrameType, stream: number, headerText: string, body: Uint8Array): void;
  /** The stream is finished; the connection forgets it. */
  streamClosed(stream: number): void;
}

const EMPTY = new Uint8Array(0);
const ID = "go.micro.transport";

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

export class MuxStream implements TransportStream {
  private readonly inbound: Message[] = [];
  private inboundBytes = 0;
  private reader: Waiter<Message | undefined> | undefined;
  private readonly creditWaiters: Array<Waiter<void>> = [];
  private credit: number;
  private consumed = 0;
  private remoteEnded = false;
  private localEnded = false;
  private failure: MicroError | undefined;
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: number,
    private readonly output: StreamOutput,
    private readonly window = DEFAULT_STREAM_WINDOW,
  ) {
    this.credit = window;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Ends the stream with 408 at `deadline` (ms since the epoch). */
  setDeadline(deadline: number): void {
    const wait = deadline - Date.now();
    const expire = (): void => this.abort(MicroError.timeout("go.micro.client", "stream deadline exceeded"), true);
    if (wait <= 0) expire();
    else this.timer = setTimeout(expire, wait);
  }

  async send(message: Message): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.localEnded) throw new MicroError(ID, 500, "send after the stream's sending side ended");
    const headerText = encodeHeader(message.header);
    const bytes = frameSize(headerText, message.body);
    if (bytes > this.output.maxFrameSize) {
      throw MicroError.tooLarge(ID, `stream message of ${bytes} bytes exceeds the maximum frame size of ${this.output.maxFrameSize} bytes`);
    }
    const size = cost(message);
    // A message larger than the whole window may go when nothing is outstanding.
    while (this.credit < size && this.credit < this.window) {
      await new Promise<void>((resolve, reject) => this.creditWaiters.push({ resolve, reject }));
    }
    this.credit -= size;
    this.output.frame(FrameType.Data, this.id, headerText, message.body);
  }

  recv(): Promise<Message | undefined> {
    const message = this.inbound.shift();
    if (message) {
      this.consumedMessage(message);
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
    this.output.frame(FrameType.End, this.id, error === undefined ? "" : encodeHeader({ "Micro-Error": error }), EMPTY);
    if (error !== undefined) this.finish(MicroError.parse(error));
    else if (this.remoteEnded) this.finish(undefined);
  }

  cancel(reason = "stream cancelled"): void {
    this.abort(new MicroError(ID, 499, reason), true);
  }

  // ---- frames from the peer ----

  onFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.Data:
        return this.onData({ header: frame.header, body: frame.body });
      case FrameType.End:
        return this.onEnd(frame.header["Micro-Error"]);
      case FrameType.Window:
        return this.onWindow(frame.body.length >= 4 ? frame.body.readUInt32BE(0) : 0);
      case FrameType.Cancel:
        return this.abort(new MicroError(ID, 499, frame.header["Micro-Error"] ?? "stream cancelled by the peer"), false);
      default:
        return;
    }
  }

  /** The connection is gone: everything pending fails. */
  lost(reason: string): void {
    this.abort(new MicroError(ID, 503, reason), false);
  }

  private onData(message: Message): void {
    if (this.remoteEnded || this.failure) return;
    if (this.reader) {
      const reader = this.reader;
      this.reader = undefined;
      this.consumedMessage(message);
      return reader.resolve(message);
    }
    this.inbound.push(message);
    this.inboundBytes += cost(message);
    if (this.inboundBytes > 2 * this.window) this.abort(new MicroError(ID, 400, "peer ignored flow control"), true);
  }

  private onEnd(error: string | undefined): void {
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

  private onWindow(increment: number): void {
    this.credit += increment;
    for (const waiter of this.creditWaiters.splice(0)) waiter.resolve();
  }

  private consumedMessage(message: Message): void {
    const size = cost(message);
    if (this.inboundBytes > 0) this.inboundBytes = Math.max(0, this.inboundBytes - size);
    this.consumed += size;
    // Grant more credit once half the window has been read: few Window frames, no stalls.
    if (this.consumed >= this.window / 2 && !this.remoteEnded && !this.failure) {
      const body = Buffer.allocUnsafe(4);
      body.writeUInt32BE(this.consumed, 0);
      this.consumed = 0;
      this.output.frame(FrameType.Window, this.id, "", body);
    }
  }

  private abort(err: MicroError, tellPeer: boolean): void {
    if (this.failure || (this.localEnded && this.remoteEnded)) return;
    if (tellPeer) this.output.frame(FrameType.Cancel, this.id, encodeHeader({ "Micro-Error": err.detail }), EMPTY);
    this.finish(err);
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
      for (const waiter of this.creditWaiters.splice(0)) waiter.reject(err);
      if (!this.controller.signal.aborted) this.controller.abort(err);
    }
    this.output.streamClosed(this.id);
  }
}
