/**
 * What the gateway observes about the HTTP requests it serves, when metrics or tracing are on
 * (`MICRO_METRICS` / `MICRO_TRACING`, or the gateway's options): a SERVER span per request,
 * joined to the caller's `traceparent` (or Go Micro's `Micro-Trace-Id`) and named for the
 * parent of the calls, streams and publishes made for it, so that one trace runs from the
 * browser or curl through the gateway to the services; and requests counted and timed by route,
 * method and status, served at `/metrics` beside the gateway client's own call metrics.
 *
 * The span is passed to the calls in their metadata rather than made active: the gateway's code
 * between the request and the call needs no context manager, and none is required of a program
 * embedding the gateway.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Header, TraceHeaders } from "../metadata/headers.js";
import type { Metrics } from "../observe/metrics.js";
import { TraceHeader } from "../observe/trace-context.js";
import type { HttpRequestSpan, Tracing } from "../observe/tracing.js";

/** The route a request is counted under, from its path and the status it got (see Routes.routeOf). */
export type RouteOf = (path: string, status: number) => string;

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
const TRACE_NAMES = new Set(Object.values(TraceHeader).map((name) => name.toLowerCase()));

export class GatewayObserver {
  private readonly spans = new WeakMap<IncomingMessage, HttpRequestSpan>();

  constructor(
    readonly metrics: Metrics | undefined,
    private readonly tracing: Tracing | undefined,
    private readonly routeOf: RouteOf,
  ) {}

  /** Starts observing `req`: its span now, its figures when `res` closes (sent, or cut short). */
  request(req: IncomingMessage, res: ServerResponse, path: string): void {
    const started = performance.now();
    const method = methodOf(req);
    const span = this.begin(req, method, path);
    res.once("close", () => {
      // Closed before a status went out: the client went away (nginx's 499).
      const status = res.headersSent ? res.statusCode : 499;
      this.end(span, method, path, status, started);
    });
  }

  /** Starts observing a WebSocket upgrade: one span and one count for the socket's whole life. */
  upgrade(req: IncomingMessage, socket: Duplex, path: string): void {
    const started = performance.now();
    const method = methodOf(req);
    const span = this.begin(req, method, path);
    socket.once("close", () => this.end(span, method, path, 101, started));
  }

  /**
   * The metadata of a call made for `req`: `metadata` with the request's span as the caller's
   * context in place of any trace headers the HTTP client sent (they name the span's parent).
   */
  metadata(req: IncomingMessage, metadata: Record<string, string> | undefined): Record<string, string> | undefined {
    const span = this.spans.get(req);
    if (!span) return metadata;
    const out: Record<string, string> = {};
    if (metadata) for (const key in metadata) if (!TRACE_NAMES.has(key.toLowerCase())) out[key] = metadata[key];
    return Object.assign(out, span.header);
  }

  /** The trace headers naming `req`'s span (what a mount puts in the metadata of its calls); undefined when it has none. */
  traceHeader(req: IncomingMessage): TraceHeaders | undefined {
    return this.spans.get(req)?.header;
  }

  private begin(req: IncomingMessage, method: string, path: string): HttpRequestSpan | undefined {
    const span = this.tracing?.httpRequest(method, path, traceHeaders(req));
    if (span) this.spans.set(req, span);
    return span;
  }

  private end(span: HttpRequestSpan | undefined, method: string, path: string, status: number, started: number): void {
    const route = this.routeOf(path, status);
    this.metrics?.httpRequest(route, method, status, (performance.now() - started) / 1000);
    span?.end(route, status);
  }
}

/** The HTTP method as a label: the standard ones, anything else as OTHER (a client may send any token). */
function methodOf(req: IncomingMessage): string {
  const method = req.method ?? "GET";
  return METHODS.has(method) ? method : "OTHER";
}

/** The trace headers of an HTTP request (Node gives their names in lower case). */
function traceHeaders(req: IncomingMessage): Header {
  const header: Header = {};
  for (const name of TRACE_NAMES) {
    const value = req.headers[name];
    if (typeof value === "string") header[name] = value;
  }
  return header;
}
