/**
 * OpenTelemetry tracing through `@opentelemetry/api` only (an optional peer dependency): spans for
 * server handling (SERVER), client calls (CLIENT, one per attempt, as OpenTelemetry asks of
 * network clients), publishes (PRODUCER) and deliveries (CONSUMER). The application brings the
 * SDK and exporter (OTLP, say) and registers them globally; without one, spans are no-ops and
 * only the incoming trace context is passed on. Trace context travels in headers (see
 * trace-context.ts), so it crosses every transport and broker. `Debug.*` is not traced, as Go
 * Micro's trace wrapper skips it.
 */
import type * as Otel from "@opentelemetry/api";
import type { CallWrapper } from "../client/client.js";
import { requireDriver } from "../driver/driver.js";
import { setLogContext } from "../logger/logger.js";
import type { Header } from "../metadata/headers.js";
import type { HandlerWrapper } from "../server/server.js";
import { onOutcome, statusOf } from "./outcome.js";
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

let api: Api | undefined;

function loadApi(): Api {
  api ??= requireDriver<Api>("@opentelemetry/api", "tracing (MICRO_TRACING / the tracing option)");
  return api;
}

export class Tracing {
  private readonly api: Api;
  private readonly tracer: Otel.Tracer;

  constructor(options: TracingOptions = {}) {
    this.api = loadApi();
    const provider = (options.tracerProvider as Otel.TracerProvider | undefined) ?? this.api.trace.getTracerProvider();
    this.tracer = provider.getTracer(options.tracerName ?? "ts-micro");
    const { trace, context } = this.api;
    // Log lines carry the active span's ids.
    setLogContext(() => {
      const span = trace.getSpanContext(context.active());
      return span && trace.isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : undefined;
    });
  }

  /** Server middleware: a SERVER span per call, the caller's span its parent, active while the handler runs. */
  handlerWrapper(): HandlerWrapper {
    const { SpanKind } = this.api;
    return (next) => (request, ctx) => {
      if (request.endpoint.startsWith("Debug.")) return next(request, ctx);
      const parent = this.parentFrom(request.header, this.api.ROOT_CONTEXT);
      const span = this.tracer.startSpan(
        request.endpoint,
        { kind: SpanKind.SERVER, attributes: { "rpc.system": "micro", "rpc.service": request.service, "rpc.method": request.endpoint } },
        parent,
      );
      // No SDK registered and no caller's context: nothing to record or pass on.
      if (!span.isRecording() && !this.api.trace.isSpanContextValid(span.spanContext())) return next(request, ctx);
      const active = this.api.trace.setSpan(parent, span);
      return this.run(active, span, () => next(request, ctx));
    };
  }

  /** Client middleware: a CLIENT span per attempt, its context written into the request's headers. */
  callWrapper(): CallWrapper {
    const { context, SpanKind } = this.api;
    return (next) => (node, request, deadline, signal) => {
      const parent = this.parentFrom(request.header, context.active());
      const span = this.tracer.startSpan(
        request.endpoint,
        {
          kind: SpanKind.CLIENT,
          attributes: { "rpc.system": "micro", "rpc.service": request.service, "rpc.method": request.endpoint, "server.address": node.address },
        },
        parent,
      );
      if (!span.isRecording() && !this.api.trace.isSpanContextValid(span.spanContext())) return next(node, request, deadline, signal);
      this.inject(request.header, span);
      return this.run(this.api.trace.setSpan(parent, span), span, () => next(node, request, deadline, signal));
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
    this.inject(sent, span);
    return this.run(this.api.trace.setSpan(parent, span), span, () => send(sent)) as Promise<void>;
  }

  /** A CONSUMER span around a delivery, the publisher's span its parent; `failed` says whether it was nacked. */
  consume(topic: string, system: string, header: Header, handle: () => Promise<void>, failed: () => boolean): Promise<void> {
    const { SpanKind } = this.api;
    const parent = this.parentFrom(header, this.api.ROOT_CONTEXT);
    const span = this.tracer.startSpan(
      `${topic} process`,
      { kind: SpanKind.CONSUMER, attributes: { "messaging.system": system, "messaging.destination.name": topic, "messaging.operation.type": "process" } },
      parent,
    );
    return this.run(this.api.trace.setSpan(parent, span), span, handle, failed) as Promise<void>;
  }

  /**
   * The parent of a new span: the active span of `base` when there is one (a call made while a
   * handler runs), else the remote context in `header` (a call given `{ ctx }` with no context
   * manager registered, or a request arriving).
   */
  private parentFrom(header: Header, base: Otel.Context): Otel.Context {
    const { trace } = this.api;
    const active = trace.getSpanContext(base);
    if (active && trace.isSpanContextValid(active)) return base;
    const remote = extractRemote(header);
    if (!remote) return base;
    return trace.setSpanContext(base, {
      traceId: remote.traceId,
      spanId: remote.spanId,
      traceFlags: remote.flags,
      isRemote: true,
      traceState: remote.state ? this.api.createTraceState(remote.state) : undefined,
    });
  }

  private inject(header: Header, span: Otel.Span): void {
    const ids = span.spanContext();
    if (!this.api.trace.isSpanContextValid(ids)) return; // no SDK and no parent: nothing to pass on
    const remote: RemoteContext = { traceId: ids.traceId, spanId: ids.spanId, flags: ids.traceFlags, state: ids.traceState?.serialize() || undefined };
    injectRemote(header, remote);
  }

  /** Runs `work` with `active` as the current context and ends `span` when its outcome is known. */
  private run(active: Otel.Context, span: Otel.Span, work: () => Promise<unknown>, failed?: () => boolean): Promise<unknown> {
    const { context } = this.api;
    let result: Promise<unknown>;
    try {
      result = context.with(active, work);
    } catch (err) {
      this.end(span, err);
      throw err;
    }
    return onOutcome(
      result,
      (err) => this.end(span, err === undefined && failed?.() ? new Error("message not acknowledged") : err),
      (step) => context.with(active, step),
    );
  }

  private end(span: Otel.Span, err: unknown): void {
    const { SpanStatusCode } = this.api;
    const code = statusOf(err);
    span.setAttribute("micro.status_code", code);
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
