/**
 * Prometheus metrics through `prom-client` (an optional peer dependency, loaded when metrics are
 * turned on): per endpoint, requests by status code, latency and calls in flight; per client call,
 * calls by status code and latency; broker publishes and deliveries by result; registry cache
 * lookups; Node's process metrics. Every series carries the service's name as `service`.
 * Served at `/metrics` on the probe port, and mountable anywhere through `metrics.handler`.
 *
 * The per-call figures are plain numbers, handed to prom-client when scraped (see series.ts).
 */
import type http from "node:http";
import type PromClient from "prom-client";
import type { CallWrapper, StreamWrapper } from "../client/client.js";
import { requireDriver } from "../driver/driver.js";
import type { HandlerWrapper } from "../server/server.js";
import { isAsyncIterable, observeIterable } from "./outcome.js";
import { CountTable, FigureTable } from "./series.js";

type Prom = typeof PromClient;

/**
 * A prom-client `Registry` (`new Registry()`, or prom-client's global `register`), typed by the
 * little of it this package's types name, so that they compile where prom-client is not installed.
 */
export interface MetricsRegistry {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions {
  /** Where the metrics are registered: a prom-client Registry (default: a registry of this service's own). */
  registry?: MetricsRegistry;
  /** Collect Node's process metrics (CPU, memory, event loop, GC; default true). */
  processMetrics?: boolean;
  /** Latency histogram buckets, in seconds. */
  buckets?: number[];
}

/** Lookups a registry cache answered from memory (hits) or had to ask the registry for (misses). */
export interface CacheLookups {
  readonly lookups: { readonly hits: number; readonly misses: number };
}

const endpointLabels = (endpoint: string): Record<string, string> => ({ endpoint });

/** From half a millisecond (a call on one host) to ten seconds. */
export const DEFAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

let prom: Prom | undefined;

function loadProm(): Prom {
  prom ??= requireDriver<Prom>("prom-client", "metrics (MICRO_METRICS / the metrics option)");
  return prom;
}

export class Metrics {
  private readonly promRegistry: PromClient.Registry;
  private readonly prom: Prom;
  private readonly server: FigureTable;
  private readonly client: FigureTable;
  /** HTTP requests (the gateway's), registered on first use: a service serves none. */
  private http: FigureTable | undefined;
  private readonly buckets: number[];
  private readonly publishes = new CountTable();
  private readonly deliveries = new CountTable();
  private readonly eventPublishes = new CountTable();
  private readonly eventDeliveries = new CountTable();

  /** The prom-client Registry the series are in: register metrics of your own there (cast it to prom-client's type). */
  get registry(): MetricsRegistry {
    return this.promRegistry;
  }

  constructor(service: string, options: MetricsOptions = {}) {
    this.prom = loadProm();
    this.promRegistry = (options.registry as PromClient.Registry | undefined) ?? new this.prom.Registry();
    this.promRegistry.setDefaultLabels({ service });
    const buckets = [...(options.buckets ?? DEFAULT_BUCKETS)].sort((a, b) => a - b);
    this.buckets = buckets;
    this.server = new FigureTable(buckets);
    this.server.register(this.promRegistry, {
      calls: "micro_server_requests_total",
      callsHelp: "Calls handled, by endpoint and status code",
      duration: "micro_server_request_duration_seconds",
      durationHelp: "Time handling a call, by endpoint",
      inFlight: "micro_server_requests_in_flight",
      inFlightHelp: "Calls being handled, by endpoint",
    });
    this.client = new FigureTable(buckets);
    this.client.register(this.promRegistry, {
      calls: "micro_client_calls_total",
      callsHelp: "Call attempts made, by called service, endpoint and status code",
      duration: "micro_client_call_duration_seconds",
      durationHelp: "Time a call attempt took, by called service and endpoint",
    });
    this.publishes.register(this.promRegistry, "micro_broker_publishes_total", "Messages published, by topic and result");
    this.deliveries.register(this.promRegistry, "micro_broker_deliveries_total", "Messages delivered to subscribers, by topic and result");
    this.eventPublishes.register(this.promRegistry, "micro_events_publishes_total", "Events published to durable streams, by topic and result");
    this.eventDeliveries.register(this.promRegistry, "micro_events_deliveries_total", "Events consumed from durable streams, by topic and result");
    if (options.processMetrics !== false) this.prom.collectDefaultMetrics({ register: this.promRegistry });
  }

  /** Counts the lookups of a registry cache (read when scraped). */
  watchCache(cache: CacheLookups): void {
    new this.prom.Counter({
      name: "micro_registry_cache_lookups_total",
      help: "Service lookups by the registry cache: answered from memory (hit) or from the registry (miss)",
      labelNames: ["result"],
      registers: [this.promRegistry],
      collect() {
        this.reset();
        this.inc({ result: "hit" }, cache.lookups.hits);
        this.inc({ result: "miss" }, cache.lookups.misses);
      },
    });
  }

  /** Server middleware: requests by code, latency and in-flight, per endpoint (Debug.* excluded). */
  handlerWrapper(): HandlerWrapper {
    return (next) => (request, ctx) => {
      const endpoint = request.endpoint;
      if (endpoint.startsWith("Debug.")) return next(request, ctx);
      const figures = this.server.get(endpoint, endpointLabels);
      const started = performance.now();
      figures.inFlight++;
      let result: Promise<unknown>;
      try {
        result = next(request, ctx);
      } catch (err) {
        figures.settle(started, err, true);
        throw err;
      }
      return result.then(
        (value) => {
          // A stream handler's call lasts as long as its stream.
          if (isAsyncIterable(value)) return observeIterable(value, (err) => figures.settle(started, err, true), undefined);
          figures.settle(started, undefined, true);
          return value;
        },
        (err: unknown) => {
          figures.settle(started, err, true);
          throw err;
        },
      );
    };
  }

  /** A call refused before the wrappers ran (shed by the server's early check): counted by code, not timed. */
  refused(endpoint: string, code: number): void {
    this.server.get(endpoint, endpointLabels).tally(code);
  }

  /** Client middleware: attempts by called service, endpoint and code, and their latency. */
  callWrapper(): CallWrapper {
    return (next) => (node, request, deadline, signal) => {
      const figures = this.client.get(`${request.service}\u0000${request.endpoint}`, () => ({ target: request.service, endpoint: request.endpoint }));
      const started = performance.now();
      let result: Promise<unknown>;
      try {
        result = next(node, request, deadline, signal);
      } catch (err) {
        figures.settle(started, err, false);
        throw err;
      }
      return result.then(
        (value) => {
          figures.settle(started, undefined, false);
          return value;
        },
        (err: unknown) => {
          figures.settle(started, err, false);
          throw err;
        },
      );
    };
  }

  /** Stream middleware: streams counted with the calls of their endpoint, by how they ended, and how long they lasted. */
  streamWrapper(): StreamWrapper {
    return (next) => (request) => {
      const figures = this.client.get(`${request.service}\u0000${request.endpoint}`, () => ({ target: request.service, endpoint: request.endpoint }));
      const started = performance.now();
      return observeIterable(next(request), (err) => figures.settle(started, err, false), undefined);
    };
  }

  /**
   * An HTTP request served (the gateway's): counted by route, method and status, and timed.
   * `route` is a template or a name the server knows (`/api/greeter/Greeter.Hello`, `/health`),
   * never a raw path, so that the series stay few.
   */
  httpRequest(route: string, method: string, status: number, seconds: number): void {
    if (!this.http) {
      this.http = new FigureTable(this.buckets);
      this.http.register(this.promRegistry, {
        calls: "micro_gateway_requests_total",
        callsHelp: "HTTP requests served by the gateway, by route, method and status",
        duration: "micro_gateway_request_duration_seconds",
        durationHelp: "Time serving an HTTP request (a stream: until it ended), by route and method",
      });
    }
    this.http.get(`${route}\u0000${method}`, () => ({ route, method })).record(seconds, status);
  }

  published(topic: string, ok: boolean): void {
    const result = ok ? "ok" : "error";
    this.publishes.add(`${topic}\u0000${result}`, () => ({ topic, result }));
  }

  delivered(topic: string, ok: boolean): void {
    const result = ok ? "ok" : "error";
    this.deliveries.add(`${topic}\u0000${result}`, () => ({ topic, result }));
  }

  eventPublished(topic: string, ok: boolean): void {
    const result = ok ? "ok" : "error";
    this.eventPublishes.add(`${topic}\u0000${result}`, () => ({ topic, result }));
  }

  eventDelivered(topic: string, ok: boolean): void {
    const result = ok ? "ok" : "error";
    this.eventDeliveries.add(`${topic}\u0000${result}`, () => ({ topic, result }));
  }

  /** The metrics in Prometheus' text format. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.promRegistry.contentType, body: await this.promRegistry.metrics() };
  }

  /** An HTTP handler answering with the metrics (for a gateway or an application's own server). */
  readonly handler = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
    this.text().then(
      ({ contentType, body }) => {
        res.writeHead(200, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body) });
        res.end(body);
      },
      (err: unknown) => {
        const text = `collecting metrics failed: ${(err as Error).message}\n`;
        res.writeHead(500, { "Content-Type": "text/plain" });
        res.end(text);
      },
    );
  };
}
