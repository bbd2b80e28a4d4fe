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
import { ErrorId, MicroError } from "../../errors/errors.js";
import { MicroHeader } from "../../metadata/headers.js";
import { StreamBase } from "../framing/stream-base.js";
import type { Message } from "../transport.js";

/** Go Micro's end-of-stream marker in `Micro-Error`. */
export const EOS = "EOS";

const ID = ErrorId.transport;

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

export class HttpStream extends StreamBase {
  private inboundBytes = 0;
  private paused = false;
  private sent = 0;

  constructor(
    private readonly wire: StreamWire,
    private readonly window: number,
  ) {
    super();
  }

  async send(message: Message): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.localEnded) throw new MicroError(ID, 500, "send after the stream's sending side ended");
    if (message.header[MicroHeader.Error] !== undefined) throw new TypeError("stream messages cannot carry Micro-Error; use end(error)");
    await this.wire.write(message);
    // A socket that always takes more never makes `send` wait, and a tight send loop would then
    // starve the event loop (a cancellation could not even arrive): yield now and then.
    if (++this.sent % 32 === 0) await new Promise((resolve) => setImmediate(resolve));
  }

  /** A message from the peer. `Micro-Error` ends the peer's side: EOS cleanly, anything else with that error. */
  deliver(message: Message): void {
    const error = message.header[MicroHeader.Error];
    if (error !== undefined) return this.remoteEnd(error === EOS ? undefined : error);
    this.receive(message);
  }

  protected sendEnd(error: string | undefined): void {
    void this.wire.write({ header: { [MicroHeader.Error]: error ?? EOS }, body: new Uint8Array(0) }).catch(() => {});
  }

  /** HTTP/1.1 has no way to cancel one message exchange but dropping the connection. */
  protected sendCancel(): void {
    this.wire.abort();
  }

  protected onQueued(message: Message): void {
    this.inboundBytes += message.body.length;
    if (!this.paused && this.inboundBytes > this.window) {
      this.paused = true;
      this.wire.pause();
    }
  }

  protected onTaken(message: Message, queued: boolean): void {
    if (!queued) return;
    this.inboundBytes -= message.body.length;
    if (this.paused && this.inboundBytes <= this.window / 2) {
      this.paused = false;
      this.wire.resume();
    }
  }

  protected onFinished(): void {
    this.wire.finished();
  }
}
