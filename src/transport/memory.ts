/**
 * `memory`: an in-process transport. Listeners are found by address in a process-wide table, and
 * a call is a function call (the body is copied, so neither side can alter the other's bytes).
 * For tests and for several services in one process.
 */
import { ErrorId, MicroError } from "../errors/errors.js";
import { logger } from "../logger/logger.js";
import { answerCall } from "./answer.js";
import type { FrameType } from "./framing/frame.js";
import { FramedStream, type StreamOutput } from "./framing/framed-stream.js";
import { decodeHeader } from "./framing/header-block.js";
import type { CallOptions, ClientConnection, Header, IncomingCall, Listener, ListenOptions, Message, Transport, TransportStream } from "./transport.js";
import { NotDeliveredError } from "./transport.js";

const listeners = new Map<string, ListenOptions>();
let nextPort = 1;

export class MemoryTransport implements Transport {
  readonly name = "memory";

  async listen(address: string, options: ListenOptions): Promise<Listener> {
    const bound = address && !address.endsWith(":0") && address !== ":0" ? address : `memory:${nextPort++}`;
    if (listeners.has(bound)) throw new Error(`memory transport: ${bound} is already in use`);
    listeners.set(bound, options);
    return {
      address: bound,
      close: async () => void listeners.delete(bound),
      destroy: () => void listeners.delete(bound),
    };
  }

  async dial(address: string): Promise<ClientConnection> {
    if (!listeners.has(address)) throw new NotDeliveredError(`dial ${address}: no memory listener`, address);
    return new MemoryConnection(address);
  }
}

class MemoryConnection implements ClientConnection {
  closed = false;
  pending = 0;

  constructor(private readonly address: string) {}

  async call(request: Message, options: CallOptions = {}): Promise<Message> {
    const handler = listeners.get(this.address)?.handler;
    if (!handler || this.closed) throw new NotDeliveredError(`${this.address}: listener closed`, this.address);
    const controller = new AbortController();
    const incoming: IncomingCall = { remote: "memory", signal: controller.signal };
    const cancel = (err: MicroError): void => controller.abort(err);
    const onAbort = (): void => cancel(new MicroError(ErrorId.client, 499, "call cancelled"));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    this.pending++;
    try {
      const outcome = new Promise<Message>((respond) => answerCall(handler, copy(request), incoming, respond, logger())).then(copy);
      const racers: Array<Promise<Message>> = [outcome];
      if (options.deadline !== undefined) {
        racers.push(
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => {
                const err = MicroError.timeout(ErrorId.client, "call timeout: deadline exceeded");
                cancel(err);
                reject(err);
              },
              Math.max(0, options.deadline! - Date.now()),
            );
          }),
        );
      }
      if (options.signal)
        racers.push(new Promise<never>((_, reject) => controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true })));
      return await Promise.race(racers);
    } finally {
      this.pending--;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * A stream is two FramedStreams (the same flow control as over TCP) whose frames are handed to
   * each other in a microtask instead of crossing a socket.
   */
  stream(request: Message, options: CallOptions = {}): TransportStream {
    const listener = listeners.get(this.address);
    let server: FramedStream | undefined;
    const client = new FramedStream(
      1,
      link(() => server),
    );
    if (!listener?.streamHandler || this.closed) {
      client.lost(listener ? `${this.address} does not take streams` : `${this.address}: listener closed`);
      return client;
    }
    server = new FramedStream(
      1,
      link(() => client),
    );
    if (options.deadline !== undefined) client.setDeadline(options.deadline);
    options.signal?.addEventListener("abort", () => client.cancel("stream cancelled"), { once: true });
    listener.streamHandler(copy(request), server, { remote: "memory", signal: server.signal });
    return client;
  }

  close(): void {
    this.closed = true;
  }
}

/** Delivers one end's frames to the other end, asynchronously as a socket would. */
function link(peer: () => FramedStream | undefined): StreamOutput {
  return {
    maxMessageSize: Infinity,
    frame(type: FrameType, stream: number, headerText: string, body: Uint8Array) {
      // FramedStream sends only valid header blocks: this decodes to a Header.
      const frame = { type, flags: 0, stream, header: decodeHeader(Buffer.from(headerText)) as Header, body: Buffer.from(body) };
      queueMicrotask(() => peer()?.onFrame(frame));
    },
    streamClosed() {},
  };
}

function copy(message: Message): Message {
  const header: Header = { ...message.header };
  return { header, body: Uint8Array.prototype.slice.call(message.body) };
}
