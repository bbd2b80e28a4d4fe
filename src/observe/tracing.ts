/**
 * OpenTelemetry tracing through `@opentelemetry/api` only (an optional peer dependency): spans for
 * server handling (SERVER), client calls (CLIENT, one per attempt, as OpenTelemetry asks of
 * network clients) and streams (CLIENT, one per stream, of every kind), publishes (PRODUCER),
 * deliveries (CONSUMER) and HTTP requests through the gateway (SERVER). The application brings
 * the SDK and exporter (OTLP, say) and registers them globally; without one, spans are no-ops and
 * only the incoming trace context is passed on. Trace context travels in headers (see
 * trace-context.ts), so it crosses every transport and broker. `Debug.*` is not traced, as Go
 * Micro's trace wrapper skips it.
 *
 * Per call, the server's span is made active (a context manager's scope, when the application
 * registered one) so that the handler's own spans, calls and log lines find it, and it is written
 * into the request's metadata, so that calls made with `{ ctx }` are its children without one.
 * A client span is passed on in the request's headers only: nothing below the call wrapper
 * looks for an active span, and a scope per call costs about as much as the span itself (on
 * Node 20 the async-hooks context manager slows every promise of the process once used).
 */
import type * as Otel from "@opentelemetry/api";
import type { CallWrapper, StreamWrapper } from "../client/client.js";
import { requireDriver } from "../driver/driver.js";
import { setLogContext } from "../logger/logger.js";
import type { Header } from "../metadata/headers.js";
import type { HandlerWrapper } from "../server/server.js";
import { chainedContext } from "./chained-context.js";
import { isAsyncIterable, observeIterable, statusOf } from "./outcome.js";
import { extractRemote, injectRemote, type RemoteContext } from "./trace-context.js";

type Api = typeof Otel;

export interface TracingOptions {
  /** The instrumentation name tracers are asked for (default "ts-micro"). */
  tracerName?: string;
  /**
   * The tracer provider, an OpenTelemetry `TracerProvider` (default: the global one the SDK
   * registered); typed by its one method so that this package's types compile without the API.
   */
  tracerProvider?: { getTracer(name: string, version?: string): object };
}

/** The span of an HTTP request being served (see Tracing.httpRequest). */
export interface HttpRequestSpan {
  /** The trace headers (`traceparent` …) naming this span: the parent of the calls made for the request. */
  readonly header: Header;
  /** Ends the span: `route` is the route template (`/api/greeter/Greeter.Hello`), `status` the HTTP status sent. */
  end(route: string, status: number): void;
}

let api: Api | undefined;

function loadApi(): Api {
  api ??= requireDriver<Api>("@opentelemetry/api", "tracing (MICRO_TRACING / the tracing option)");
  return api;
}

type Attributes = Record<string, string>;

export class Tracing {
  private readonly api: Api;
  private readonly tracer: Otel.Tracer;
  /** A server span's attributes by endpoint: the SDK copies them, so one object per endpoint serves every call. */
  private readonly serverAttributes = new Map<string, Attributes>();
  private readonly clientAttributes = new Map<string, Attributes>();
  /** The root context of the spans started here: the API's, with the values set on it chained, not copied (see chained-context.ts). */
  private readonly root: Otel.Context;

  constructor(options: TracingOptions = {}) {
    this.api = loadApi();
    const provider = (options.tracerProvider as Otel.TracerProvider | undefined) ?? this.api.trace.getTracerProvider();
    this.tracer = provider.getTracer(options.tracerName ?? "ts-micro");
    this.root = chainedContext(this.api.ROOT_CONTEXT);
    const { trace, context } = this.api;
    // Log lines carry the active span's ids.
    setLogContext(() => {
      const span = trace.getSpanContext(context.active());
      return span && trace.isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : undefined;
    });
  }

  /** Server middleware: a SERVER span per call, the caller's span its parent, active while the handler runs. */
  handlerWrapper(): HandlerWrapper {
    const { SpanKind, context, trace } = this.api;
    return (next) => (request, ctx) => {
      const endpoint = request.endpoint;
      if (endpoint.startsWith("Debug.")) return next(request, ctx);
      const parent = this.remoteParent(request.header, this.root);
      const span = this.tracer.startSpan(endpoint, { kind: SpanKind.SERVER, attributes: this.attributesOf(request.service, endpoint) }, parent);
      // No SDK registered and no caller's context: nothing to record or pass on.
      if (!this.passedOn(span)) return next(request, ctx);
      // The span rides in the request's metadata too, so that calls given `{ ctx }` are its
      // children even where no context manager makes it active.
      this.inject(request.header, span);
      const active = trace.setSpan(parent, span);
      let result: Promise<unknown>;
      try {
        result = context.with(active, next, undefined, request, ctx);
      } catch (err) {
        this.end(span, err);
        throw err;
      }
      return result.then(
        (value) => {
          // A stream handler's span lasts as long as the stream, active in each of its steps.
          if (isAsyncIterable(value))
            return observeIterable(
              value,
              (err) => this.end(span, err),
              (step) => context.with(active, step),
            );
          this.end(span, undefined);
          return value;
        },
        (err: unknown) => {
          this.end(span, err);
          throw err;
        },
      );
    };
  }

  /** Client middleware: a CLIENT span per attempt, its context written into the request's headers. */
  callWrapper(): CallWrapper {
    const { context, SpanKind } = this.api;
    return (next) => (node, request, deadline, signal) => {
      const parent = this.parentFrom(request.header, context.active());
      const span = this.tracer.startSpan(
        request.endpoint,
        { kind: SpanKind.CLIENT, attributes: this.clientAttributesOf(request.service, request.endpoint, node.address) },
        parent,
      );
      if (!this.passedOn(span)) return next(node, request, deadline, signal);
      this.inject(request.header, span);
      let result: Promise<unknown>;
      try {
        result = next(node, request, deadline, signal);
      } catch (err) {
        this.end(span, err);
        throw err;
      }
      return result.then(
        (value) => {
          this.end(span, undefined);
          return value;
        },
        (err: unknown) => {
          this.end(span, err);
          throw err;
        },
      );
    };
  }

  /** Stream middleware: a CLIENT span per stream (server, client or bidirectional), ending when the responses end. */
  streamWrapper(): StreamWrapper {
    const { context, SpanKind } = this.api;
    return (next) => (request) => {
      const parent = this.parentFrom(request.header, context.active());
      const span = this.tracer.startSpan(
        request.endpoint,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            "rpc.system": "micro",
            "rpc.service": request.service,
            "rpc.method": request.endpoint,
            "micro.stream": isAsyncIterable(request.body) ? "input" : "output",
          },
        },
        parent,
      );
      if (!this.passedOn(span)) return next(request);
      this.inject(request.header, span);
      return observeIterable(next(request), (err) => this.end(span, err), undefined);
    };
  }

  /**
   * A SERVER span for an HTTP request (the gateway's), the caller's `traceparent` its parent;
   * undefined when there is nothing to record or pass on (no SDK, no caller's context).
   */
  httpRequest(method: string, path: string, header: Header): HttpRequestSpan | undefined {
    const { SpanKind, SpanStatusCode } = this.api;
    const parent = this.remoteParent(header, this.root);
    const span = this.tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { "http.request.method": method, "url.path": path } }, parent);
    if (!this.passedOn(span)) return undefined;
    const passed: Header = {};
    this.inject(passed, span);
    return {
      header: passed,
      end(route: string, status: number): void {
        span.updateName(`${method} ${route}`);
        span.setAttribute("http.route", route);
        span.setAttribute("http.response.status_code", status);
        // As OpenTelemetry's HTTP conventions have it: a server span fails on 5xx only (a 4xx is the caller's).
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      },
    };
  }

  /** A PRODUCER span around a publish; `send` gets a copy of `header` carrying the span's context. */
  publish(topic: string, system: string, header: Header, send: (header: Header) => Promise<void>): Promise<void> {
    const { context, SpanKind } = this.api;
    const parent = this.parentFrom(header, context.active());
    const span = this.tracer.startSpan(
      `${topic} publish`,
      { kind: SpanKind.PRODUCER, attributes: { "messaging.system": system, "messaging.destination.name": topic, "messaging.operation.type": "send" } },
      parent,
    );
    const sent: Header = { ...header };
    if (this.passedOn(span)) this.inject(sent, span);
    return this.run(this.api.trace.setSpan(parent, span), span, () => send(sent));
  }

  /** A CONSUMER span around a delivery, the publisher's span its parent; `failed` says whether it was nacked. */
  consume(topic: string, system: string, header: Header, handle: () => Promise<void>, failed: () => boolean): Promise<void> {
    const { SpanKind } = this.api;
    const parent = this.remoteParent(header, this.root);
    const span = this.tracer.startSpan(
      `${topic} process`,
      { kind: SpanKind.CONSUMER, attributes: { "messaging.system": system, "messaging.destination.name": topic, "messaging.operation.type": "process" } },
      parent,
    );
    return this.run(this.api.trace.setSpan(parent, span), span, handle, failed);
  }

  private attributesOf(service: string, endpoint: string): Attributes {
    let attributes = this.serverAttributes.get(endpoint);
    if (attributes?.["rpc.service"] !== service) {
      attributes = { "rpc.system": "micro", "rpc.service": service, "rpc.method": endpoint };
      // Bounded by the server's endpoints; a caller naming services at will gets no entry.
      if (this.serverAttributes.size < 1_000) this.serverAttributes.set(endpoint, attributes);
    }
    return attributes;
  }

  /** A client span's attributes, one object per service, endpoint and node (the SDK copies them). */
  private clientAttributesOf(service: string, endpoint: string, address: string): Attributes {
    const key = `${service}\u0000${endpoint}\u0000${address}`;
    let attributes = this.clientAttributes.get(key);
    if (!attributes) {
      attributes = { "rpc.system": "micro", "rpc.service": service, "rpc.method": endpoint, "server.address": address };
      // Bounded: a client calling services and nodes without end gets a fresh object past the cap.
      if (this.clientAttributes.size < 10_000) this.clientAttributes.set(key, attributes);
    }
    return attributes;
  }

  /**
   * Whether `span` has anything to record or pass on: false for the API's no-op span (no SDK
   * registered, no caller's context). A recording span has valid ids; the check of the ids (two
   * regular expressions) is for the others only.
   */
  private passedOn(span: Otel.Span): boolean {
    if (span.isRecording()) return true;
    const ids = span.spanContext();
    // The API's no-op tracer (no SDK) hands out this one object when there is no parent: no regular expressions for it.
    return ids !== this.api.INVALID_SPAN_CONTEXT && this.api.trace.isSpanContextValid(ids);
  }

  /**
   * The parent of a new span: the active span of `base` when there is one (a call made while a
   * handler runs), else the remote context in `header` (a call given `{ ctx }` with no context
   * manager registered).
   */
  private parentFrom(header: Header, base: Otel.Context): Otel.Context {
    const { trace } = this.api;
    const active = trace.getSpanContext(base);
    if (active && trace.isSpanContextValid(active)) return base;
    return this.remoteParent(header, base === this.api.ROOT_CONTEXT ? this.root : base);
  }

  /** `base` with the remote context in `header` (a request or message arriving) as its span, if it names one. */
  private remoteParent(header: Header, base: Otel.Context): Otel.Context {
    const remote = extractRemote(header);
    if (!remote) return base;
    return this.api.trace.setSpanContext(base, {
      traceId: remote.traceId,
      spanId: remote.spanId,
      traceFlags: remote.flags,
      isRemote: true,
      traceState: remote.state ? this.api.createTraceState(remote.state) : undefined,
    });
  }

  /** Writes `span`'s ids into `header`; only for a span `passedOn` accepted. */
  private inject(header: Header, span: Otel.Span): void {
    const ids = span.spanContext();
    const remote: RemoteContext = { traceId: ids.traceId, spanId: ids.spanId, flags: ids.traceFlags, state: ids.traceState?.serialize() || undefined };
    injectRemote(header, remote);
  }

  /** Runs `work` with `active` as the current context and ends `span` when it settles. */
  private run(active: Otel.Context, span: Otel.Span, work: () => Promise<void>, failed?: () => boolean): Promise<void> {
    let result: Promise<void>;
    try {
      result = this.api.context.with(active, work);
    } catch (err) {
      this.end(span, err);
      throw err;
    }
    return result.then(
      () => this.end(span, failed?.() ? new Error("message not acknowledged") : undefined),
      (err: unknown) => {
        this.end(span, err);
        throw err;
      },
    );
  }

  private end(span: Otel.Span, err: unknown): void {
    const { SpanStatusCode } = this.api;
    span.setAttribute("micro.status_code", statusOf(err));
    if (err !== undefined) {
      if (err instanceof Error) span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    }
    span.end();
  }
}

/** Stops adding trace ids to log lines (tests; a process that turns tracing off). */
export function stopLogTraceIds(): void {
  setLogContext(undefined);
}
