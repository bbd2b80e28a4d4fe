/**
 * The RPC client: finds a node through the registry cache and the selector, encodes the request by
 * Content-Type, sends it over a pooled connection and decodes the answer. Deadlines travel with the
 * call (a call made while serving another inherits what is left of its deadline); retries go to
 * another node, and only when repeating the call cannot run it twice on the server (or the call is
 * marked idempotent).
 */

import { AUTHORIZATION } from "../auth/auth.js";
import type { Broker } from "../broker/broker.js";
import { type Codecs, DEFAULT_CONTENT_TYPE, defaultCodecs } from "../codec/index.js";
import { ErrorId, LocalError, MicroError, RetryLaterError } from "../errors/errors.js";
import { deferredGrpcTransport } from "../grpc/deferred.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import { type Context, responseMetadataOf } from "../metadata/context.js";
import { callHeader, MicroHeader } from "../metadata/headers.js";
import { Metadata, type MetadataInit } from "../metadata/metadata.js";
import { compose } from "../middleware/compose.js";
import type { Node, Registry, ServiceRecord } from "../registry/registry.js";
import { type Filter, Selector, type Strategy } from "../selector/selector.js";
import { ConnectionLostError, type Header, type Message, NotDeliveredError, type Transport, type TransportStream } from "../transport/transport.js";
import { ResponseCache } from "./cache.js";
import { CallHandle, isAsyncIterable } from "./handle.js";
import { bearer, type ClientIdentity, outgoingMetadata } from "./identity.js";
import { ConnectionPool } from "./pool.js";
import { type PublishOptions, publishPayload } from "./publish.js";
import { exponentialBackoff, RetryBudget, type RetryBudgetOptions } from "./retry.js";

const NO_OPTIONS: CallOptions = Object.freeze({});
const GRPC_SCHEME = "grpc://";

export interface CallOptions {
  /** Milliseconds the caller will wait, across all attempts (default: the client's `timeout`). */
  timeout?: number;
  /** The context of the call being served, to inherit its deadline and metadata. */
  ctx?: Context;
  /** Extra attempts on other nodes when it is safe (default: the client's `retries`). */
  retries?: number;
  /** The endpoint can safely run twice: allows retrying after timeouts (408) and dropped connections. */
  idempotent?: boolean;
  /**
   * Longest wait for the first attempt, in ms, doubling with each further attempt, so that a
   * retry on another node fits in the deadline (default: the client's `attemptTimeout` for
   * idempotent calls; none for the others, which wait up to their deadline since a retry could
   * run them twice). A cut attempt fails the call unless it may be retried.
   */
  attemptTimeout?: number;
  /** Call these addresses instead of asking the registry; `grpc://host:port` calls a gRPC server. */
  address?: string | string[];
  strategy?: Strategy;
  filters?: Filter[];
  /** Metadata sent with the call (as headers). */
  metadata?: MetadataInit;
  /**
   * Receives the server's response metadata (the handler's `ctx.responseMetadata`; over gRPC
   * the response headers and trailers): once the answer (or the server's error) is in, for a
   * stream once it has ended. Not called when no answer came (a dropped connection, a timeout),
   * nor for an answer from the response cache (`cache`).
   */
  onResponseMetadata?: (metadata: Metadata) => void;
  signal?: AbortSignal;
  /** Content-Type of the request (default: the client's, normally application/json). */
  contentType?: string;
  /**
   * Answer from the client's response cache when the same request (service, endpoint, content
   * type, body) was answered less than this many ms ago (Go Micro's `WithCache`); 0: no cache.
   * Only for calls whose answer does not depend on who asks or when (see docs/resilience.md).
   */
  cache?: number;
}

/** A call as call wrappers see it. */
export interface ClientRequest {
  readonly service: string;
  readonly endpoint: string;
  readonly contentType: string;
  readonly body: unknown;
  /** Outgoing headers; wrappers may add to them. */
  readonly header: Header;
  /** The call option of that name, given the answer's response metadata. */
  readonly onResponseMetadata?: (metadata: Metadata) => void;
}

/** One attempt at a call on a chosen node. Resolves with the decoded response. */
export type CallFunc = (node: Node, request: ClientRequest, deadline: number, signal: AbortSignal | undefined) => Promise<unknown>;

/** Client middleware around each attempt, as Go Micro's CallWrapper. The first given is the outermost. */
export type CallWrapper = (next: CallFunc) => CallFunc;

/**
 * A stream as stream wrappers see it: `request.body` is the single request of a server stream,
 * or the AsyncIterable of requests (client and bidirectional streams). The responses are read
 * from what it returns; the stream ends when their iteration does.
 */
export type StreamFunc = (request: ClientRequest) => AsyncIterable<unknown>;

/** Client middleware around each stream (all three kinds). The first given is the outermost. */
export type StreamWrapper = (next: StreamFunc) => StreamFunc;

/** Where the client finds services. A CacheRegistry adds a synchronous fast path. */
export interface ServiceLookup {
  getService(name: string): Promise<ServiceRecord[]>;
  getCached?(name: string): readonly ServiceRecord[] | undefined;
}

export interface ClientOptions {
  registry: ServiceLookup & Pick<Registry, "name">;
  /** Runs on close(), after the connections close: releases what the client's creator owns (registry, broker). */
  onClose?: () => void | Promise<void>;
  /** The transport for ts-micro nodes (those whose metadata says `transport: <its name>`). */
  transport: Transport;
  /**
   * The transport for every other node, e.g. Go Micro's HTTP transport for Go Micro services
   * (default: `transport`).
   */
  foreignTransport?: Transport;
  /**
   * The transport for nodes whose metadata says `protocol: grpc` (Go Micro's gRPC server, or a
   * ts-micro service with `server: "grpc"`), and for `grpc://` addresses (default: a GrpcTransport).
   */
  grpcTransport?: Transport;
  selector?: Selector;
  codecs?: Codecs;
  contentType?: string;
  /** Default per-call timeout in ms (default 30 s, `MICRO_CLIENT_REQUEST_TIMEOUT`). */
  timeout?: number;
  /** Default extra attempts (default 3, `MICRO_CLIENT_RETRIES`). */
  retries?: number;
  /**
   * The longest wait for the first attempt of an idempotent call before it is retried on another
   * node, doubling with each further attempt (default 800 ms: a frozen node costs such a call
   * under a second). A quarter of it is how long a node may leave calls unanswered, while other
   * nodes answer, before it is ejected from selection for a while, as a node refusing
   * connections is.
   */
  attemptTimeout?: number;
  /** Milliseconds to wait before attempt `n` (n ≥ 1); default exponentialBackoff() (0, ~100, ~200 … ≤ 2 s, jittered). */
  backoff?: (attempt: number) => number;
  /**
   * Caps retries at a share of calls (default 20 % of the calls of the last 10 s, plus 10 a
   * second); false: no cap. Retries after a request that never reached a server (connection
   * refused) are not counted: they add no load.
   */
  retryBudget?: RetryBudgetOptions | false;
  /**
   * Response cache (see CallOptions.cache): TTL in ms by endpoint, for calls that give none,
   * keyed `Handler.Method` (any service) or `service:Handler.Method`; and its size.
   */
  cache?: { endpoints?: Record<string, number>; maxEntries?: number };
  wrappers?: CallWrapper[];
  /** Stream wrappers, around each stream the client opens. */
  streamWrappers?: StreamWrapper[];
  /** The calling service's name, sent as `Micro-From-Service`. */
  from?: string;
  logger?: Logger;
  /** Where publish() sends messages (a service's client uses the service's broker). */
  broker?: Broker;
  /** The token sent on calls, streams and publishes (a service's identity, or a fixed token); see client/identity.ts. */
  identity?: ClientIdentity;
}

/**
 * The typed form of a handler's method on the client side: the same request and response types,
 * call options in place of the context. Streaming methods (`async *`) become AsyncIterables; a
 * method taking an AsyncIterable takes one on the client too.
 */
type ClientMethod<F> = F extends () => AsyncIterable<infer Res>
  ? (req?: undefined, options?: CallOptions) => AsyncIterable<Res>
  : F extends () => Promise<infer Res>
    ? (req?: undefined, options?: CallOptions) => Promise<Res>
    : F extends (req: infer Req, ctx: Context) => AsyncIterable<infer Res>
      ? (req: Req, options?: CallOptions) => AsyncIterable<Res>
      : F extends (req: infer Req, ctx: Context) => Promise<infer Res>
        ? (req: Req, options?: CallOptions) => Promise<Res>
        : never;

/** A handler class seen from a client: its methods, with call options in place of the context. */
export type HandlerClient<H> = {
  readonly [K in keyof H as H[K] extends (...args: never[]) => Promise<unknown> | AsyncIterable<unknown> ? K : never]: ClientMethod<H[K]>;
};

/**
 * The handlers a service serves, by the name they are served under (the class name, or handle()'s
 * `name` option): `{ Orders: Orders }`. Each value is a handler class, not a method, so that
 * `client.service<Orders>(…)` (the class itself) is rejected at compile time.
 */
export type HandlerMap<M> = { [K in keyof M]: M[K] extends (...args: never[]) => unknown ? never : object };

/** A service seen from a client: `proxy.<Handler>.<Method>(req, options)`, for the handlers named in `M` only. */
export type ServiceClient<M> = { readonly [K in keyof M & string]: HandlerClient<M[K]> };

/** 0 ms for the first retry (it goes to a different node), then ~100 ms, ~200 ms, ~400 ms …, ≤ 2 s, jittered. */
export const defaultBackoff: (attempt: number) => number = exponentialBackoff();

export class Client {
  readonly selector: Selector;
  private readonly pool: ConnectionPool;
  private readonly foreignPool: ConnectionPool | undefined;
  /** Connections to gRPC nodes, made on first use. */
  private grpcPool: ConnectionPool | undefined;
  private readonly codecs: Codecs;
  private readonly contentType: string;
  private readonly timeout: number;
  private readonly retries: number;
  private readonly attemptTimeout: number;
  private readonly backoff: (attempt: number) => number;
  /** Undefined when retries are not capped. */
  readonly retryBudget: RetryBudget | undefined;
  readonly cache: ResponseCache;
  private readonly cacheTtl: Record<string, number> | undefined;
  /** `send` inside the call wrappers; undefined without wrappers. */
  private readonly wrapped: CallFunc | undefined;
  private readonly watchdog: NodeJS.Timeout;
  private readonly log: Logger;
  private sequence = 0;
  private lastTimeout = { ms: -1, text: "" };

  constructor(private readonly options: ClientOptions) {
    this.selector = options.selector ?? new Selector();
    this.pool = new ConnectionPool(options.transport);
    this.foreignPool = options.foreignTransport && new ConnectionPool(options.foreignTransport);
    this.codecs = options.codecs ?? defaultCodecs;
    this.contentType = options.contentType ?? DEFAULT_CONTENT_TYPE;
    this.timeout = options.timeout ?? 30_000;
    this.retries = options.retries ?? 3;
    this.attemptTimeout = options.attemptTimeout ?? 800;
    this.backoff = options.backoff ?? defaultBackoff;
    this.retryBudget = options.retryBudget === false ? undefined : new RetryBudget(options.retryBudget);
    this.cache = new ResponseCache({ maxEntries: options.cache?.maxEntries });
    this.cacheTtl = options.cache?.endpoints;
    this.log = options.logger ?? defaultLogger();
    this.wrapped = options.wrappers?.length ? compose<CallFunc>(this.send, options.wrappers) : undefined;
    // A frozen process keeps its connections open, so only its silence gives it away.
    this.watchdog = setInterval(() => this.ejectUnanswering(), Math.max(10, this.attemptTimeout / 20));
    this.watchdog.unref();
  }

  /**
   * Calls `endpoint` (`<Handler>.<Method>`) of `service` and resolves with the decoded response.
   * A call is a chain of attempts, each on a node not tried before:
   * `attempt` (pick a node) → `attemptOn` (the call wrappers, then `exchange`: encode, send,
   * decode) → on failure, `afterFailure` decides between the caller's error and attempt n + 1.
   */
  call<Res = unknown, Req = unknown>(service: string, endpoint: string, req: Req, options: CallOptions = NO_OPTIONS): Promise<Res> {
    const contentType = options.contentType ?? this.contentType;
    const ttl = options.cache ?? (this.cacheTtl && (this.cacheTtl[`${service}:${endpoint}`] ?? this.cacheTtl[endpoint]));
    if (ttl) {
      const key = ResponseCache.key(service, endpoint, contentType, req);
      return this.cache.get(key, ttl, () => this.callNow(service, endpoint, contentType, req, options)) as Promise<Res>;
    }
    return this.callNow(service, endpoint, contentType, req, options) as Promise<Res>;
  }

  private callNow(service: string, endpoint: string, contentType: string, body: unknown, options: CallOptions): Promise<unknown> {
    const request: ClientRequest = { service, endpoint, contentType, body, header: this.headersFor(options), onResponseMetadata: options.onResponseMetadata };
    this.retryBudget?.call();
    const now = Date.now(); // read once: at concurrency 1 each clock read costs a quarter of a microsecond
    return this.attempt(request, options, this.deadlineOf(options, now), 0, undefined, now);
  }

  /**
   * Attempt `n` of a call: picks a node not in `tried`, synchronously when the registry cache
   * has the service. Promise chains rather than async functions: the common case (a cached node,
   * a first attempt that succeeds) then costs no async frame.
   */
  private attempt(
    request: ClientRequest,
    options: CallOptions,
    deadline: number,
    n: number,
    tried: Set<string> | undefined,
    now = Date.now(),
  ): Promise<unknown> {
    if (now >= deadline) {
      return Promise.reject(new LocalError(408, `call timeout: ${request.service} ${request.endpoint} had no answer before its deadline`));
    }
    let node: Node | Promise<Node>;
    try {
      node = this.pick(request.service, request.endpoint, options, tried);
    } catch (err) {
      return Promise.reject(err);
    }
    if (node instanceof Promise) return node.then((picked) => this.attemptOn(picked, request, options, deadline, n, tried, Date.now()));
    return this.attemptOn(node, request, options, deadline, n, tried, now);
  }

  /** Runs attempt `n` on `node`, bounded by the attempt's own deadline; `now` is the time of the pick. */
  private attemptOn(
    node: Node,
    request: ClientRequest,
    options: CallOptions,
    deadline: number,
    n: number,
    tried: Set<string> | undefined,
    now: number,
  ): Promise<unknown> {
    const limit = this.attemptDeadline(options, deadline, n, now);
    const onFailure = (err: unknown): Promise<unknown> => this.afterFailure(err, node, request, options, deadline, n, tried);
    // Without call wrappers the exchange's own promise also carries the retry decision (one
    // promise per attempt instead of two: a few percent of the client's time per call).
    if (!this.wrapped) return this.exchange(node, request, limit, options.signal, onFailure, now);
    let result: Promise<unknown>;
    try {
      result = this.wrapped(node, request, limit, options.signal);
    } catch (err) {
      result = Promise.reject(err); // a wrapper or the encoder threw before anything was sent
    }
    return result.then(undefined, onFailure);
  }

  /** After attempt `n` failed on `node` with `err`: the next attempt, or the error for the caller. */
  private afterFailure(
    err: unknown,
    node: Node,
    request: ClientRequest,
    options: CallOptions,
    deadline: number,
    n: number,
    tried: Set<string> | undefined,
  ): Promise<unknown> {
    if (n >= (options.retries ?? this.retries) || Date.now() >= deadline || !retryable(err, options)) {
      return Promise.reject(this.surface(err, request.service));
    }
    // A request that never reached a server costs nothing to repeat; any other retry is budgeted.
    if (!(err instanceof NotDeliveredError) && this.retryBudget && !this.retryBudget.retry()) {
      this.log.debug("retry budget spent: not retrying", { service: request.service, endpoint: request.endpoint });
      return Promise.reject(this.surface(err, request.service));
    }
    this.log.debug("retrying call", { service: request.service, endpoint: request.endpoint, attempt: n + 1, reason: (err as Error).message });
    const next = tried ?? new Set<string>();
    next.add(node.address);
    return sleep(Math.min(this.backoff(n + 1), Math.max(0, deadline - Date.now()))).then(() => this.attempt(request, options, deadline, n + 1, next));
  }

  /**
   * Where attempt `n` stops waiting: the call's deadline, or sooner by `attemptTimeout` × 2ⁿ so
   * that a retry fits, while an endpoint that is merely slow still gets longer on each attempt.
   * Only calls that may be retried after a timeout are cut by default: cutting any other call
   * short could only turn a late answer into a failure.
   */
  private attemptDeadline(options: CallOptions, deadline: number, n: number, now: number): number {
    const limit = options.attemptTimeout ?? (options.idempotent ? this.attemptTimeout : undefined);
    return limit === undefined ? deadline : Math.min(deadline, now + limit * 2 ** n);
  }

  /**
   * Every so often: nodes that left calls unanswered for a quarter of `attemptTimeout` are ejected
   * when other nodes answered meanwhile (see Selector.ejectUnanswering), and every such node,
   * ejected or only suspected, gets a ping from the transport with half of `attemptTimeout` to
   * answer. A live node (one slow call, a long poll) answers it and keeps its calls; a frozen one
   * loses its connection, so the calls waiting on it fail now rather than when the node resumes
   * or their deadline passes, and its callers move on to other nodes.
   */
  private ejectUnanswering(): void {
    const quietFor = this.attemptTimeout / 4;
    const { ejected, suspected } = this.selector.ejectUnanswering(quietFor);
    for (const address of ejected) {
      this.log.debug("node ejected: it answered nothing while calls waited and other nodes answered", { address, quietMs: quietFor });
      this.probe(address);
    }
    for (const address of suspected) this.probe(address);
  }

  /** Has the transport check that `address` is alive (see ejectUnanswering). */
  private probe(address: string): void {
    this.pool.probe(address, this.attemptTimeout / 2);
    this.foreignPool?.probe(address, this.attemptTimeout / 2);
  }

  /** The innermost CallFunc, which call wrappers wrap: the exchange, its failures thrown. */
  private readonly send: CallFunc = (node, request, deadline, signal) => this.exchange(node, request, deadline, signal, rethrow);

  /**
   * One attempt on `node`: encode, send, decode; a failure goes to `onFailure`. It also tells
   * the selector how the node did: a reply proves it alive; a refused or dropped connection
   * ejects it, and so does a timeout when the node answered nothing else while this call waited.
   */
  private exchange(
    node: Node,
    request: ClientRequest,
    deadline: number,
    signal: AbortSignal | undefined,
    onFailure: (err: unknown) => Promise<unknown>,
    now = Date.now(),
  ): Promise<unknown> {
    const address = node.address;
    const answers = this.selector.begin(address);
    let sent: Promise<Message>;
    try {
      sent = this.dispatch(node, request, deadline, signal, now);
    } catch (err) {
      this.selector.end(address, false); // the encoder threw: nothing was sent
      return onFailure(err);
    }
    return sent.then(
      (reply) => {
        try {
          return this.answer(address, request, reply);
        } catch (err) {
          return onFailure(err); // the server's error, or a response that does not decode
        }
      },
      (err: unknown) => onFailure(this.failed(address, answers, err)),
    );
  }

  /**
   * Sends `request` to `node` and resolves with the raw reply; throws when it cannot be encoded.
   * `now` is when the call was made, within the same task: its Timeout header is then the same
   * for every call with the same timeout, which the server's HeaderMemo reuses.
   */
  private dispatch(node: Node, request: ClientRequest, deadline: number, signal: AbortSignal | undefined, now: number): Promise<Message> {
    const codec = this.codecs.get(request.contentType, ErrorId.client);
    const timeout = this.timeoutHeader(Math.max(1, deadline - now));
    const id = decimal(++this.sequence);
    const header = callHeader(request.service, request.endpoint, request.contentType, timeout, id);
    // The caller's metadata, which cannot override the headers above (cheaper than a spread).
    for (const key in request.header) if (header[key] === undefined) header[key] = request.header[key];
    const message: Message = { header, body: codec.encode(request.body, { endpoint: request.endpoint, kind: "request", id }) };
    const options = { deadline, signal };
    const pooled = this.poolFor(node).get(node.address, request.service);
    return pooled instanceof Promise ? pooled.then((conn) => conn.call(message, options)) : pooled.call(message, options);
  }

  /** The Timeout header (ns) for `ms` left. Calls made in the same millisecond share one string. */
  private timeoutHeader(ms: number): string {
    if (ms !== this.lastTimeout.ms) this.lastTimeout = { ms, text: decimal(ms * 1e6) };
    return this.lastTimeout.text;
  }

  /** The reply `address` sent: the decoded response, or the error it carries (the server's), thrown. */
  private answer(address: string, request: ClientRequest, reply: Message): unknown {
    this.selector.end(address, true);
    this.selector.mark(address, false);
    if (request.onResponseMetadata) request.onResponseMetadata(answeredMetadata(reply.header, request.header));
    const error = reply.header[MicroHeader.Error];
    if (error !== undefined) throw RetryLaterError.withHint(MicroError.parse(error), reply.header[MicroHeader.RetryAfter]);
    return reply.body.length === 0 ? undefined : this.decodeResponse(reply, request.contentType, request.service, request.endpoint);
  }

  /**
   * A request that got no reply from `address` (its node had `answers` replies when it was sent).
   * Every such error was raised on this side of the wire: NotDeliveredError and
   * ConnectionLostError keep their types, any other comes back as a LocalError.
   */
  private failed(address: string, answers: number, err: unknown): unknown {
    const lost = err instanceof NotDeliveredError || err instanceof ConnectionLostError;
    const local = lost ? err : LocalError.of(err);
    const unanswered = local instanceof LocalError && local.code === 408 && !this.selector.answeredSince(address, answers);
    this.selector.end(address, false);
    if (lost || unanswered) this.selector.mark(address, true);
    return local;
  }

  /**
   * A typed proxy: `client.service<{ Greeter: Greeter }>("greeter").Greeter.Hello({ name })`.
   * The type argument names each handler the service serves, so a misspelt handler or method
   * name, or a wrong request type, fails to compile.
   */
  service<M extends HandlerMap<M>>(name: string): ServiceClient<M> {
    const handlers = new Map<string, HandlerClient<unknown>>();
    return new Proxy({} as ServiceClient<M>, {
      get: (_target, handler) => {
        if (typeof handler !== "string" || handler === "then") return undefined;
        let proxy = handlers.get(handler);
        if (!proxy) {
          proxy = this.handler<unknown>(name, handler);
          handlers.set(handler, proxy);
        }
        return proxy;
      },
    });
  }

  /**
   * A typed proxy for one handler: `client.handler<Greeter>("greeter", "Greeter").Hello({ name })`.
   * Method names and types are checked; the handler name is a plain string (prefer service()).
   */
  handler<H>(service: string, handler: string): HandlerClient<H> {
    const methods = new Map<string, (req: unknown, options?: CallOptions) => CallHandle<unknown>>();
    return new Proxy({} as HandlerClient<H>, {
      get: (_target, method) => {
        if (typeof method !== "string" || method === "then") return undefined;
        let fn = methods.get(method);
        if (!fn) {
          const endpoint = `${handler}.${method}`;
          fn = (req, options) =>
            new CallHandle(
              () => this.call(service, endpoint, req, options),
              () => this.stream(service, endpoint, req, options),
              isAsyncIterable(req),
            );
          methods.set(method, fn);
        }
        return fn;
      },
    });
  }

  /**
   * Opens a stream to `endpoint`. `input` is the single request of a server stream, or an
   * AsyncIterable of requests (client and bidirectional streams), sent as the server reads them.
   * Iterate the result for the responses; `break` cancels the stream on the server too.
   * The deadline (`timeout`, or the parent context's) covers the whole stream; by default a
   * stream has none.
   */
  async *stream<Res = unknown, Req = unknown>(
    service: string,
    endpoint: string,
    input: Req | AsyncIterable<Req>,
    options: CallOptions = {},
  ): AsyncGenerator<Res, void, undefined> {
    const contentType = options.contentType ?? this.contentType;
    const request: ClientRequest = { service, endpoint, contentType, body: input, header: this.headersFor(options) };
    const wrappers = this.options.streamWrappers;
    const open = (opened: ClientRequest): AsyncIterable<unknown> => this.open(opened, options);
    yield* (wrappers?.length ? compose<StreamFunc>(open, wrappers)(request) : open(request)) as AsyncIterable<Res>;
  }

  /** The innermost StreamFunc: opens the stream on a node, sends the input, yields the decoded responses. */
  private async *open(request: ClientRequest, options: CallOptions): AsyncGenerator<unknown, void, undefined> {
    const { service, endpoint, contentType } = request;
    const codec = this.codecs.get(contentType, ErrorId.client);
    const deadline = options.timeout !== undefined || options.ctx?.deadline !== undefined ? this.deadlineOf(options, Date.now()) : undefined;
    const header: Header = {
      ...request.header,
      [MicroHeader.Service]: service,
      [MicroHeader.Endpoint]: endpoint,
      [MicroHeader.Method]: endpoint,
      [MicroHeader.Id]: decimal(++this.sequence),
      [MicroHeader.Stream]: decimal(this.sequence),
      [MicroHeader.ContentType]: contentType,
    };
    if (deadline !== undefined) header[MicroHeader.Timeout] = decimal(Math.max(1, deadline - Date.now()) * 1e6);
    const input = request.body;
    if (isAsyncIterable(input)) header[MicroHeader.StreamInput] = "true";
    const { stream, node } = await this.establish(service, { header, body: new Uint8Array(0) }, deadline, options);
    this.selector.beginStream(node.address);
    const encode = (value: unknown): Message => ({ header: {}, body: codec.encode(value, { endpoint, kind: "request" }) });
    void sendInput(stream, input, encode);
    // The response metadata comes with the messages (mux, HTTP, gRPC's headers) and at the end (gRPC's trailers).
    const received: Header | undefined = options.onResponseMetadata && {};
    const report = (): void => options.onResponseMetadata?.(answeredMetadata({ ...received, ...stream.trailer }, header));
    try {
      for (let message = await stream.recv(); message; message = await stream.recv()) {
        if (received) Object.assign(received, message.header);
        yield message.body.length === 0 ? undefined : this.decodeResponse(message, contentType, service, endpoint);
      }
      if (received) report();
    } catch (err) {
      // The server's error ends the stream with its trailers too.
      if (received && err instanceof MicroError && !(err instanceof LocalError)) report();
      throw err;
    } finally {
      this.selector.endStream(node.address);
      stream.cancel("the caller stopped reading"); // no-op when the stream already ended
    }
  }

  /** Picks a node and opens the stream, trying other nodes while the chosen one is unreachable. */
  private async establish(
    service: string,
    request: Message,
    deadline: number | undefined,
    options: CallOptions,
  ): Promise<{ stream: TransportStream; node: Node }> {
    const tried = new Set<string>();
    const retries = options.retries ?? this.retries;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await sleep(this.backoff(attempt));
      // Streams leave circuits alone: the breaker judges unary calls, and a stream holding a
      // circuit's one trial would never report back.
      const node = await this.pick(service, undefined, options, tried);
      tried.add(node.address);
      try {
        const conn = await this.poolFor(node).get(node.address, service);
        this.selector.mark(node.address, false);
        return { stream: conn.stream(request, { deadline, signal: options.signal }), node };
      } catch (err) {
        if (err instanceof NotDeliveredError) this.selector.mark(node.address, true);
        if (attempt >= retries || !(err instanceof NotDeliveredError)) throw this.surface(err, service);
      }
    }
  }

  private decodeResponse(message: Message, contentType: string, service: string, endpoint: string): unknown {
    const codec = this.codecs.get(message.header[MicroHeader.ContentType] ?? contentType, ErrorId.client);
    try {
      return codec.decode(message.body, { endpoint, kind: "response", id: message.header[MicroHeader.Id] });
    } catch (err) {
      throw new LocalError(500, `malformed response from ${service}: ${(err as Error).message}`);
    }
  }

  /**
   * Publishes `payload` to `topic` through the broker, encoded by Content-Type, with Go Micro's
   * headers (`Content-Type`, `Micro-Topic`, `Micro-Id`) plus `metadata`.
   */
  async publish<T = unknown>(topic: string, payload: T, options: PublishOptions = {}): Promise<void> {
    if (!this.options.broker) throw new Error("client.publish(): this client has no broker (pass `broker` to the Client)");
    await publishPayload(this.options.broker, this.codecs, topic, payload, {
      ...options,
      defaultContentType: this.contentType,
      from: this.options.from,
      identity: this.options.identity,
    });
  }

  /** Closes pooled connections, then runs the `onClose` the client was created with. */
  async close(): Promise<void> {
    clearInterval(this.watchdog);
    this.pool.close();
    this.foreignPool?.close();
    this.grpcPool?.close();
    await this.options.onClose?.();
  }

  /** ts-micro nodes advertise the transport they speak; any other node gets the foreign transport. */
  private poolFor(node: Node): ConnectionPool {
    if (node.metadata?.protocol === "grpc") {
      this.grpcPool ??= new ConnectionPool(this.options.grpcTransport ?? deferredGrpcTransport({ logger: this.log }));
      return this.grpcPool;
    }
    if (!this.foreignPool || node.metadata?.transport === this.options.transport.name) return this.pool;
    return this.foreignPool;
  }

  /** Chooses a node; synchronous when the registry cache has the service (the common case). */
  /** `endpoint`: the unary call's, for the selector's circuits (see wrappers/breaker.ts); undefined for a stream. */
  private pick(service: string, endpoint: string | undefined, options: CallOptions, tried: ReadonlySet<string> | undefined): Node | Promise<Node> {
    if (options.address !== undefined) {
      const addresses = Array.isArray(options.address) ? options.address : [options.address];
      // `grpc://host:port` is a gRPC server (any: Go Micro's, grpc-go, ts-micro's); anything else speaks the client's transport.
      const nodes = addresses.map((address) =>
        address.startsWith(GRPC_SCHEME)
          ? { id: address, address: address.slice(GRPC_SCHEME.length), metadata: { protocol: "grpc", transport: "grpc" } }
          : { id: address, address, metadata: { protocol: "mucp", transport: this.options.transport.name } },
      );
      const services = [{ name: service, version: "", metadata: null, endpoints: null, nodes }];
      const node = this.selector.select(service, services, { exclude: tried, strategy: options.strategy, endpoint });
      if (!node) throw this.circuitsOpen(service, endpoint, services) ?? new LocalError(500, `no address to call for ${service}`);
      return node;
    }
    const cached = this.options.registry.getCached?.(service);
    if (cached) return this.pickFrom(service, endpoint, cached, options, tried);
    return this.lookup(service).then((services) => this.pickFrom(service, endpoint, services, options, tried));
  }

  private pickFrom(
    service: string,
    endpoint: string | undefined,
    services: readonly ServiceRecord[],
    options: CallOptions,
    tried: ReadonlySet<string> | undefined,
  ): Node {
    if (services.length === 0) throw new LocalError(404, `service ${service}: not found`);
    const node = this.selector.select(service, services, { exclude: tried, filters: options.filters, strategy: options.strategy, endpoint });
    if (!node) {
      const open = this.circuitsOpen(service, endpoint, services);
      if (open) throw open;
      throw new LocalError(
        503,
        tried ? `service ${service}: no other node to try (tried ${[...tried].join(", ")})` : `service ${service}: no node matches the call's filters`,
      );
    }
    return node;
  }

  /**
   * When a circuit breaker left no node to call for `endpoint` (every circuit open, or half-open
   * with its one trial call in flight): a fast 503 saying when a trial will be allowed.
   */
  private circuitsOpen(service: string, endpoint: string | undefined, services: readonly ServiceRecord[]): RetryLaterError | undefined {
    if (endpoint === undefined) return undefined;
    const addresses = services.flatMap((s) => s.nodes.map((n) => n.address));
    if (!addresses.some((a) => this.selector.circuit(a, endpoint) !== "closed")) return undefined;
    const wait = this.selector.circuitWait(addresses, endpoint);
    return new RetryLaterError(ErrorId.client, 503, `service ${service}: circuit open for ${endpoint} on every node`, wait);
  }

  private async lookup(service: string): Promise<readonly ServiceRecord[]> {
    try {
      return await this.options.registry.getService(service);
    } catch (err) {
      throw new LocalError(500, `registry ${this.options.registry.name}: looking up ${service} failed: ${(err as Error).message}`);
    }
  }

  /** Turns transport failures into MicroErrors the caller can inspect (still LocalErrors). */
  private surface(err: unknown, service: string): unknown {
    if (err instanceof NotDeliveredError || err instanceof ConnectionLostError) return new LocalError(503, `service ${service}: ${err.message}`);
    return err;
  }

  private deadlineOf(options: CallOptions, now: number): number {
    const own = now + (options.timeout ?? this.timeout);
    const inherited = options.ctx?.deadline;
    return inherited !== undefined && options.timeout === undefined ? inherited : Math.min(own, inherited ?? Infinity);
  }

  private headersFor(options: CallOptions): Header {
    const header: Header = {};
    if (this.options.from) header[MicroHeader.FromService] = this.options.from;
    const identity = this.options.identity;
    if (!options.ctx && !options.metadata) {
      // The common call: nothing to merge, so no Metadata to build.
      const own = identity?.source.token;
      if (own !== undefined) header[AUTHORIZATION] = bearer(own);
      return header;
    }
    const metadata = outgoingMetadata(options.ctx, options.metadata, identity);
    if (metadata) for (const [key, value] of metadata) header[key] = value;
    return header;
  }
}

/**
 * Whether an attempt that failed with `err` may be repeated on another node (while the deadline
 * allows). NotDeliveredError: the request never reached a server, so nothing ran. Any other
 * failure may have run the call, so only an idempotent call is repeated, and only after a
 * dropped connection or a timeout or unavailability: an attempt this client cut short (a
 * LocalError) or a server's 408/503.
 */
function retryable(err: unknown, options: CallOptions): boolean {
  if (options.signal?.aborted) return false;
  if (err instanceof NotDeliveredError) return true;
  if (!options.idempotent) return false;
  if (err instanceof ConnectionLostError) return true;
  return err instanceof MicroError && (err.code === 408 || err.code === 503);
}

function rethrow(err: unknown): never {
  throw err;
}

/** Sends the caller's requests: one message, or each item of an AsyncIterable; then half-closes. */
async function sendInput(stream: TransportStream, input: unknown, encode: (value: unknown) => Message): Promise<void> {
  try {
    if (isAsyncIterable(input)) {
      for await (const item of input) await stream.send(encode(item));
    } else {
      await stream.send(encode(input));
    }
    stream.end();
  } catch (err) {
    // The stream ended under us (its error reaches the reader), or the input itself failed.
    if (!stream.signal.aborted) stream.cancel(`the request stream failed: ${(err as Error).message}`);
  }
}

/**
 * An integer in decimal. Not String(n): V8 keeps every number it converts that way in a cache
 * sized like the young generation, so a fresh call id and timeout per call keep their strings
 * alive across collections and promote them, which made young-generation pauses of several ms
 * and most of the client's tail latency. toFixed bypasses that cache.
 */
function decimal(n: number): string {
  return n.toFixed(0);
}

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The response metadata of a reply: its headers minus the framework's, and minus those that
 * repeat the caller's own metadata word for word (Go Micro's HTTP transport, and ts-micro's for
 * it, echo every request header in the response).
 */
function answeredMetadata(reply: Header, sent: Header): Metadata {
  const metadata = new Metadata(responseMetadataOf(reply));
  for (const key in sent) if (metadata.get(key) === sent[key]) metadata.delete(key);
  return metadata;
}
