/**
 * The context a handler receives with each request: who is calling, the metadata that came with
 * the call, the deadline, and an AbortSignal that fires when the caller gives up or the deadline
 * passes. `ctx.client` makes calls that inherit the remaining deadline and the metadata.
 */

import { ErrorId, MicroError } from "../errors/errors.js";
import type { Account } from "../metadata/account.js";
import { type Caller, type Context, responseMetadataOf } from "../metadata/context.js";
import { MicroHeader } from "../metadata/headers.js";
import { Metadata } from "../metadata/metadata.js";
import type { Header, IncomingCall } from "../transport/transport.js";

/** A header name every transport can carry (an HTTP token). */
const HEADER_NAME = /^[!#$%&'*+.^`|~\w-]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const UNSENDABLE_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * The server's Context. Metadata and the AbortSignal are built on first use: most handlers never
 * touch them, and the hot path should not pay for them.
 */
export class RequestContext implements Context {
  private metadata_: Metadata | undefined;
  private response_: Metadata | undefined;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Declared here so that setting it does not change the object's shape on the hot path. */
  account: Account | undefined = undefined;

  constructor(
    readonly service: string,
    readonly endpoint: string,
    private readonly header: Header,
    readonly deadline: number | undefined,
    private readonly incoming: IncomingCall,
  ) {}

  /** The call's Micro-Id, for codecs that answer with it (JSON-RPC). */
  get callId(): string | undefined {
    return this.header[MicroHeader.Id];
  }

  get metadata(): Metadata {
    this.metadata_ ??= new Metadata(this.header);
    return this.metadata_;
  }

  get responseMetadata(): Metadata {
    this.response_ ??= new Metadata();
    return this.response_;
  }

  /**
   * What the handler set in `responseMetadata` as headers to send, or undefined when nothing
   * was set (the common case costs no object). Framework and protocol headers are dropped, and
   * so is an entry no protocol can carry (a line break or NUL, a name that is not a token), the
   * same on every transport, rather than failing an answer the handler has already produced.
   */
  responseHeader(): Header | undefined {
    if (!this.response_ || this.response_.size === 0) return undefined;
    const header = responseMetadataOf(this.response_.toJSON());
    for (const key in header) if (!HEADER_NAME.test(key) || UNSENDABLE_VALUE.test(header[key])) delete header[key];
    return header;
  }

  get caller(): Caller {
    const certificate = this.incoming.certificate;
    const caller: Caller = { service: this.header[MicroHeader.FromService], address: this.incoming.remote };
    if (certificate) caller.certificate = certificate;
    return caller;
  }

  get signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    const controller = new AbortController();
    this.controller = controller;
    const transport = this.incoming.signal;
    if (transport.aborted) controller.abort(transport.reason);
    else transport.addEventListener("abort", () => controller.abort(transport.reason), { once: true });
    if (this.deadline !== undefined && !controller.signal.aborted) {
      const wait = this.deadline - Date.now();
      const expire = () => controller.abort(MicroError.timeout(ErrorId.server, `deadline of ${this.endpoint} exceeded`));
      if (wait <= 0) expire();
      else this.timer = setTimeout(expire, wait).unref();
    }
    return controller.signal;
  }

  /** Releases the deadline timer once the handler has finished. */
  done(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
