/**
 * The RPC server: turns the public methods of handler objects into endpoints `<Handler>.<Method>`
 * and serves requests arriving from a transport. Handler signature: `(req, ctx) => Promise<rsp>`.
 *
 * Streams: a method that returns an AsyncIterable (an `async *` method) streams its responses; a
 * caller that sends a stream gets its messages to the handler as an AsyncIterable first argument.
 *
 * A thrown MicroError travels to the caller as Go Micro's `{id, code, detail, status}`; anything
 * else is logged here and reaches the caller as a plain 500, never with a stack trace.
 */

import type { Codec } from "../codec/codec.js";
import { type Codecs, DEFAULT_CONTENT_TYPE, defaultCodecs } from "../codec/index.js";
import { MicroError, RetryLaterError } from "../errors/errors.js";
import { InFlight } from "../lifecycle/in-flight.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import type { Context } from "../metadata/context.js";
import { MicroHeader } from "../metadata/headers.js";
import { compose } from "../middleware/compose.js";
import type { Endpoint, Value } from "../registry/registry.js";
import type { Header, IncomingCall, Message, RequestHandler, TransportStream } from "../transport/transport.js";
import { RequestContext } from "./context.js";

export type { Caller, Context } from "../metadata/context.js";

/**
 * A request as wrappers see it: addressing plus the decoded body (an AsyncIterable of decoded
 * messages when the caller streams). A stream handler's result is an AsyncIterable.
 */
export interface ServerRequest {
  readonly service: string;
  readonly endpoint: string;
  readonly contentType: string;
  readonly body: unknown;
  /** True when the call is a stream (either direction). */
  readonly stream: boolean;
  /** The request's headers as received (Go Micro's `Request.Header()`); `ctx.metadata` reads them case-insensitively. */
  readonly header: Header;
}

/** The innermost function a handler wrapper wraps: runs the endpoint and returns its result. */
export type HandlerFunc = (request: ServerRequest, ctx: Context) => Promise<unknown>;

/** Server middleware, as Go Micro's HandlerWrapper. The first wrapper given is the outermost. */
export type HandlerWrapper = (next: HandlerFunc) => HandlerFunc;

/** Per-endpoint descriptions published in the registry (TypeScript types are gone at run time). */
export interface EndpointDescription {
  request?: Value;
  response?: Value;
  metadata?: Record<string, string>;
  /**
   * Marks an endpoint whose caller streams its requests (an `async` or `async *` method taking an
   * AsyncIterable) as a stream in the registry; `async *` methods are recognised without it. Over
   * gRPC, where the caller does not say how it streams, this is what tells the server to hand
   * the method an AsyncIterable (a `.proto`'s `stream` request says it too).
   */
  stream?: boolean;
}

export interface HandleOptions {
  /** The handler's name in endpoint names; default: the instance's class name. */
  name?: string;
  /** Descriptions by method name, published with the endpoints. */
  endpoints?: Record<string, EndpointDescription>;
  /**
   * Served but not published in the registry nor listed to callers (Go Micro's
   * `InternalHandler(true)`, as its services register the `Debug` handler).
   */
  internal?: boolean;
}

export interface ServerOptions {
  /** The service name; used as the id of errors this server raises. */
  name: string;
  codecs?: Codecs;
  wrappers?: HandlerWrapper[];
  logger?: Logger;
  /**
   * Asked about each unary call before its body is decoded or any wrapper runs: an error refuses
   * the call at once (load shedding: an overloaded server spends next to nothing on a call it
   * cannot take).
   */
  admit?: (endpoint: string) => MicroError | undefined;
}

type Method = (req: unknown, ctx: Context) => unknown;

interface Route {
  endpoint: string;
  /** The method behind its wrappers; without wrappers, the method itself (a value or a promise). */
  invoke: (request: ServerRequest, ctx: Context) => unknown;
  description: Endpoint;
  internal: boolean;
  /** The caller streams its requests (declared `stream: true`); the method streams its answers (`async *`). */
  input: boolean;
  output: boolean;
}

const EMPTY = new Uint8Array(0);

export class Server {
  readonly name: string;
  private readonly routes = new Map<string, Route>();
  private readonly codecs: Codecs;
  private readonly wrappers: HandlerWrapper[];
  private readonly log: Logger;
  private readonly admit: ((endpoint: string) => MicroError | undefined) | undefined;
  private readonly inflight = new InFlight();
  private requestCount = 0;
  private errorCount = 0;

  constructor(options: ServerOptions) {
    this.name = options.name;
    this.codecs = options.codecs ?? defaultCodecs;
    this.wrappers = options.wrappers ?? [];
    this.log = options.logger ?? defaultLogger();
    this.admit = options.admit;
  }

  /** Adds every public method of `instance` (own and inherited; names starting with `_` are private). */
  handle(instance: object, options: HandleOptions = {}): string[] {
    const handlerName = options.name ?? instance.constructor?.name;
    if (!handlerName || handlerName === "Object") {
      throw new TypeError("handle(): pass a class instance, or give the handler a name with { name }");
    }
    const added: string[] = [];
    for (const method of publicMethods(instance)) {
      const endpoint = `${handlerName}.${method}`;
      if (this.routes.has(endpoint)) throw new Error(`endpoint ${endpoint} is already handled`);
      const fn = (instance as Record<string, Method>)[method].bind(instance);
      const described = options.endpoints?.[method] ?? {};
      const isStream = described.stream === true || isAsyncGeneratorFunction((instance as Record<string, Method>)[method]);
      this.routes.set(endpoint, {
        endpoint,
        // Without wrappers the method is called as it is: an async wrapper per call costs a promise.
        invoke: this.wrappers.length === 0 ? (request, ctx) => fn(request.body, ctx) : this.wrap(promised(fn)),
        description: {
          name: endpoint,
          request: described.request ?? null,
          response: described.response ?? null,
          metadata: { ...(isStream ? { stream: "true" } : {}), ...described.metadata },
        },
        internal: options.internal === true,
        input: described.stream === true,
        output: isAsyncGeneratorFunction((instance as Record<string, Method>)[method]),
      });
      added.push(endpoint);
    }
    if (added.length === 0) throw new TypeError(`handle(): ${handlerName} has no public methods`);
    return added;
  }

  /**
   * The endpoints to publish in the registry, sorted by name as Go Micro does: in byte order, as
   * Go compares strings. (localeCompare would also cost every service with two endpoints ICU's
   * collator at start: about 2.5 MB of resident memory.)
   */
  endpoints(): Endpoint[] {
    return this.published()
      .map((r) => r.description)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * How `endpoint` streams, for protocols where the caller does not say (gRPC): requests stream
   * when the endpoint was declared `stream: true`, answers when the method is `async *`.
   * Undefined when the server has no such endpoint.
   */
  shape(endpoint: string): { input: boolean; output: boolean } | undefined {
    const route = this.routes.get(endpoint);
    return route && { input: route.input, output: route.output };
  }

  /** Names of the published handlers (`Greeter` for `Greeter.Hello`), sorted. */
  handlers(): string[] {
    return [...new Set(this.published().map((r) => r.endpoint.slice(0, r.endpoint.indexOf("."))))].sort();
  }

  private published(): Route[] {
    return [...this.routes.values()].filter((r) => !r.internal);
  }

  /** Calls in progress. */
  get pending(): number {
    return this.inflight.size;
  }

  /** Calls received since the server was created (unary and streams, refused ones included). */
  get requests(): number {
    return this.requestCount;
  }

  /** Calls answered with an error since the server was created. */
  get errors(): number {
    return this.errorCount;
  }

  /** Resolves when no call is in progress, or with false after `timeout` ms. */
  drain(timeout: number): Promise<boolean> {
    return this.inflight.drained(timeout);
  }

  /**
   * The transport's request handler: answers every request through `respond`, failures as error
   * responses; never throws. Written without an async frame or a promise of its own: it runs for
   * every call, and each one would cost more than the rest of the call's bookkeeping.
   */
  readonly serve: RequestHandler = (request, call, respond) => {
    this.requestCount++;
    const header = request.header;
    const endpoint = header[MicroHeader.Endpoint] ?? header[MicroHeader.Method];
    const contentType = header[MicroHeader.ContentType] ?? DEFAULT_CONTENT_TYPE;
    if (!endpoint) return this.refuse(MicroError.badRequest(this.name, "request has no Micro-Endpoint header"), respond);
    const route = this.routes.get(endpoint);
    if (!route) return this.refuse(this.unknownEndpoint(endpoint), respond);
    const refused = this.admit?.(endpoint);
    if (refused) return this.refuse(refused, respond);
    const codec = this.codecs.find(contentType);
    if (!codec)
      return this.refuse(
        new MicroError(this.name, 415, `unsupported Content-Type ${contentType} (supported: ${this.codecs.contentTypes.join(", ")})`),
        respond,
      );
    let body: unknown;
    try {
      body = codec.decode(request.body, { endpoint, kind: "request", id: header[MicroHeader.Id] });
    } catch (err) {
      return this.refuse(MicroError.badRequest(this.name, `malformed ${contentType} request body: ${(err as Error).message}`), respond);
    }
    const ctx = new RequestContext(header[MicroHeader.Service] ?? this.name, endpoint, header, deadlineFrom(header[MicroHeader.Timeout]), call);
    this.inflight.begin();
    let result: unknown;
    try {
      result = route.invoke({ service: ctx.service, endpoint, contentType, body, stream: false, header }, ctx);
    } catch (err) {
      respond(this.finish(ctx, this.failure(err, endpoint)));
      return undefined;
    }
    if (isThenable(result)) {
      // Promise.resolve adopts any thenable (a query builder, another library's promise) and
      // returns a native promise as it is.
      Promise.resolve(result).then(
        (value: unknown) => respond(this.finish(ctx, this.reply(value, codec, ctx))),
        (err: unknown) => respond(this.finish(ctx, this.failure(err, endpoint))),
      );
    } else respond(this.finish(ctx, this.reply(result, codec, ctx)));
    return undefined;
  };

  /** The response to a unary call whose handler returned `value`. */
  private reply(value: unknown, codec: Codec, ctx: RequestContext): Message {
    if (isAsyncIterable(value))
      return this.error(
        MicroError.badRequest(this.name, `${ctx.endpoint} is a stream: open it as a stream (client.stream, for await over the typed proxy, or micro stream)`),
      );
    if (value === undefined) return { header: {}, body: EMPTY };
    try {
      // No Content-Type: the response is in the request's, which the caller knows (and the HTTP
      // transport echoes the request's headers to Go Micro clients anyway).
      return { header: {}, body: codec.encode(value, { endpoint: ctx.endpoint, kind: "response", id: ctx.callId }) };
    } catch (err) {
      return this.failure(err, ctx.endpoint);
    }
  }

  private failure(err: unknown, endpoint: string): Message {
    return this.error(this.toMicroError(err, endpoint));
  }

  /** Ends a call that ran its handler: releases its deadline timer, counts it out. */
  private finish(ctx: RequestContext, response: Message): Message {
    ctx.done();
    this.inflight.end();
    const metadata = ctx.responseHeader();
    // The handler's response metadata never overrides the answer's own headers (Micro-Error…).
    if (metadata) for (const key in metadata) response.header[key] ??= metadata[key];
    return response;
  }

  /** A call refused before its handler ran. */
  private refuse(err: MicroError, respond: (response: Message) => void): undefined {
    respond(this.error(err));
    return undefined;
  }

  /** The transport's stream handler: runs one streaming call to completion. */
  readonly serveStream = (request: Message, stream: TransportStream, call: IncomingCall): void => {
    this.requestCount++;
    this.inflight.begin();
    void this.runStream(request, stream, call).finally(() => {
      this.inflight.end();
    });
  };

  private async runStream(request: Message, stream: TransportStream, call: IncomingCall): Promise<void> {
    const header = request.header;
    const endpoint = header[MicroHeader.Endpoint] ?? header[MicroHeader.Method] ?? "";
    const contentType = header[MicroHeader.ContentType] ?? DEFAULT_CONTENT_TYPE;
    const route = this.routes.get(endpoint);
    const codec = this.codecs.find(contentType);
    if (!route) return this.endStream(stream, this.unknownEndpoint(endpoint));
    if (!codec) return this.endStream(stream, new MicroError(this.name, 415, `unsupported Content-Type ${contentType}`));
    const ctx = new RequestContext(header[MicroHeader.Service] ?? this.name, endpoint, header, deadlineFrom(header[MicroHeader.Timeout]), call);
    try {
      const body =
        header[MicroHeader.StreamInput] === "true" ? decodeMessages(stream, codec, this.name, endpoint) : await this.firstMessage(stream, codec, endpoint);
      const result = await route.invoke({ service: ctx.service, endpoint, contentType, body, stream: true, header }, ctx);
      // The request's Content-Type applies to every reply; the first one carries the response
      // metadata set so far (gRPC response headers), the end all of it (gRPC trailers).
      let first = true;
      const reply = (value: unknown): Promise<void> => {
        const header = (first && ctx.responseHeader()) || {};
        first = false;
        return stream.send({ header, body: codec.encode(value, { endpoint, kind: "response" }) });
      };
      if (isAsyncIterable(result)) {
        // A failed send (the caller went away) leaves the loop, which runs the generator's finally.
        for await (const item of result) await reply(item);
      } else if (result !== undefined) {
        await reply(result);
      }
      stream.end(undefined, ctx.responseHeader());
    } catch (err) {
      if (!stream.signal.aborted) this.endStream(stream, this.toMicroError(err, endpoint), ctx.responseHeader());
    } finally {
      ctx.done();
    }
  }

  /** The single request of a server stream; decode errors become 400s. */
  private async firstMessage(stream: TransportStream, codec: Codec, endpoint: string): Promise<unknown> {
    const message = await stream.recv();
    if (!message) return {};
    try {
      return codec.decode(message.body, { endpoint, kind: "request" });
    } catch (err) {
      throw MicroError.badRequest(this.name, `malformed ${codec.contentType} stream message: ${(err as Error).message}`);
    }
  }

  private toMicroError(err: unknown, endpoint: string): MicroError {
    if (err instanceof MicroError) return err;
    this.log.error("handler failed", { endpoint, err: err instanceof Error ? err.stack : String(err) });
    return MicroError.internal(this.name, "internal server error");
  }

  private endStream(stream: TransportStream, err: MicroError, metadata?: Header): void {
    this.errorCount++;
    stream.end(err.toString(), metadata);
  }

  private error(err: MicroError): Message {
    this.errorCount++;
    const header: Header = { [MicroHeader.Error]: err.toString() };
    // A shed or rate-limited call says when to come back, beside Go Micro's error JSON.
    if (err instanceof RetryLaterError) header[MicroHeader.RetryAfter] = err.header;
    return { header, body: EMPTY };
  }

  private unknownEndpoint(endpoint: string): MicroError {
    const known =
      this.published()
        .map((r) => r.endpoint)
        .sort()
        .join(", ") || "none";
    return MicroError.notFound(this.name, `unknown endpoint ${endpoint} on service ${this.name} (endpoints: ${known})`);
  }

  private wrap(fn: HandlerFunc): HandlerFunc {
    return compose(fn, this.wrappers);
  }
}

/** The caller's messages, decoded as they arrive. */
async function* decodeMessages(stream: TransportStream, codec: Codec, id: string, endpoint: string): AsyncGenerator<unknown> {
  for (let message = await stream.recv(); message; message = await stream.recv()) {
    try {
      yield codec.decode(message.body, { endpoint, kind: "request" });
    } catch (err) {
      throw MicroError.badRequest(id, `malformed ${codec.contentType} stream message: ${(err as Error).message}`);
    }
  }
}

/**
 * The method as wrappers call it: always a promise, a synchronous throw becoming a rejection. Not
 * an async arrow: a method that already returns a native promise is handed on as it is, instead
 * of costing a second promise and an async frame on every wrapped call.
 */
function promised(fn: (body: unknown, ctx: Context) => unknown): HandlerFunc {
  return (request, ctx) => {
    try {
      const result = fn(request.body, ctx);
      return result instanceof Promise ? result : Promise.resolve(result);
    } catch (err) {
      return Promise.reject(err);
    }
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null && typeof (value as PromiseLike<unknown>).then === "function";
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor;

function isAsyncGeneratorFunction(fn: unknown): boolean {
  return fn instanceof AsyncGeneratorFunction;
}

/** `Timeout` is decimal nanoseconds (Go Micro); returns an absolute deadline in ms. */
function deadlineFrom(timeout: string | undefined): number | undefined {
  if (!timeout) return undefined;
  const ns = timeout === lastTimeout.text ? lastTimeout.ns : parseTimeout(timeout);
  if (!Number.isFinite(ns) || ns <= 0) return undefined;
  return Date.now() + ns / 1e6;
}

/**
 * The last Timeout header parsed. A caller's calls repeat it, as the same string when the
 * connection's HeaderMemo reused it: one comparison instead of parsing the number again.
 */
let lastTimeout = { text: "", ns: Number.NaN };

function parseTimeout(text: string): number {
  lastTimeout = { text, ns: Number(text) };
  return lastTimeout.ns;
}

/** Method names of an instance and its class chain, up to (not including) Object.prototype. */
function publicMethods(instance: object): string[] {
  const names = new Set<string>();
  for (let proto: object | null = instance; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === "constructor" || name.startsWith("_")) continue;
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (descriptor && typeof descriptor.value === "function") names.add(name);
    }
  }
  return [...names];
}
