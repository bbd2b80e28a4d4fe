/**
 * One stream on a framed connection (mux, NATS, memory), used the same way by client and server. Flow control is by
 * credit in bytes: each side may have at most `window` bytes of messages unread by the other; the
 * reader grants more (a Window frame) as the application consumes messages. A producer's `send`
 * therefore waits while its consumer is behind, and one slow stream never blocks the others.
 */
import { ErrorId, MicroError } from "../../errors/errors.js";
import { MicroHeader } from "../../metadata/headers.js";
import type { Message } from "../transport.js";
import { type Frame, FrameType } from "./frame.js";
import { encodeHeader, headerProblem } from "./header-block.js";
import { StreamBase } from "./stream-base.js";

export const DEFAULT_STREAM_WINDOW = 1024 * 1024;

/** Bytes a message costs against the window; the overhead stops floods of empty messages. */
const cost = (message: { body: Uint8Array }): number => message.body.length + 64;

/** How a stream writes frames onto its connection. */
export interface StreamOutput {
  /**
   * Largest header block plus body the connection may send in one frame (its frame limit less
   * its own framing bytes); a bigger message is refused with 413.
   */
  readonly maxMessageSize: number;
  frame(type: FrameType, stream: number, headerText: string, body: Uint8Array): void;
  /** The stream is finished; the connection forgets it. */
  streamClosed(stream: number): void;
}

const EMPTY = new Uint8Array(0);
const ID = ErrorId.transport;

/** An error text as a header value: NUL, CR and LF would break the header block (see header-block.ts). */
const headerSafe = (text: string): string => text.replace(/[\0\r\n]/g, " ");

interface CreditWaiter {
  resolve(): void;
  reject(err: Error): void;
}

export class FramedStream extends StreamBase {
  private inboundBytes = 0;
  private readonly creditWaiters: CreditWaiter[] = [];
  private credit: number;
  private consumed = 0;

  constructor(
    readonly id: number,
    private readonly output: StreamOutput,
    private readonly window = DEFAULT_STREAM_WINDOW,
  ) {
    super();
    this.credit = window;
  }

  async send(message: Message): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.localEnded) throw new MicroError(ID, 500, "send after the stream's sending side ended");
    const problem = headerProblem(message.header);
    if (problem) throw new MicroError(ID, 400, `stream message not sent: ${problem}`);
    const headerText = encodeHeader(message.header);
    const bytes = Buffer.byteLength(headerText) + message.body.length;
    if (bytes > this.output.maxMessageSize) {
      throw MicroError.tooLarge(ID, `stream message of ${bytes} bytes (header and body) exceeds the maximum of ${this.output.maxMessageSize} bytes`);
    }
    const size = cost(message);
    // A message larger than the whole window may go when nothing is outstanding.
    while (this.credit < size && this.credit < this.window) {
      await new Promise<void>((resolve, reject) => this.creditWaiters.push({ resolve, reject }));
    }
    this.credit -= size;
    this.output.frame(FrameType.Data, this.id, headerText, message.body);
  }

  /** A frame for this stream from the peer. */
  onFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.Data:
        return this.receive({ header: frame.header, body: frame.body });
      case FrameType.End:
        return this.remoteEnd(frame.header[MicroHeader.Error]);
      case FrameType.Window:
        return this.onWindow(frame.body.length >= 4 ? frame.body.readUInt32BE(0) : 0);
      case FrameType.Cancel:
        return this.fail(new MicroError(ID, 499, frame.header[MicroHeader.Error] ?? "stream cancelled by the peer"), false);
      default:
        return;
    }
  }

  protected sendEnd(error: string | undefined): void {
    this.output.frame(FrameType.End, this.id, error === undefined ? "" : encodeHeader({ [MicroHeader.Error]: headerSafe(error) }), EMPTY);
  }

  protected sendCancel(err: MicroError): void {
    this.output.frame(FrameType.Cancel, this.id, encodeHeader({ [MicroHeader.Error]: headerSafe(err.detail) }), EMPTY);
  }

  protected onQueued(message: Message): void {
    this.inboundBytes += cost(message);
    if (this.inboundBytes > 2 * this.window) this.fail(new MicroError(ID, 400, "peer ignored flow control"), true);
  }

  /** Grants more credit once half the window has been read: few Window frames, no stalls. */
  protected onTaken(message: Message, queued: boolean): void {
    const size = cost(message);
    if (queued) this.inboundBytes -= size;
    this.consumed += size;
    if (this.consumed >= this.window / 2 && !this.remoteEnded && !this.failure) {
      const body = Buffer.allocUnsafe(4);
      body.writeUInt32BE(this.consumed, 0);
      this.consumed = 0;
      this.output.frame(FrameType.Window, this.id, "", body);
    }
  }

  protected onFinished(): void {
    for (const waiter of this.creditWaiters.splice(0)) waiter.reject(this.failure ?? new MicroError(ID, 500, "stream ended"));
    this.output.streamClosed(this.id);
  }

  private onWindow(increment: number): void {
    this.credit += increment;
    for (const waiter of this.creditWaiters.splice(0)) waiter.resolve();
  }
}
