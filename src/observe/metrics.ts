/**
 * Prometheus metrics through `prom-client` (an optional peer dependency, loaded when metrics are
 * turned on): per endpoint, requests by status code, latency and calls in flight; per client call,
 * calls by status code and latency; broker publishes and deliveries by result; registry cache
 * lookups; Node's process metrics. Every series carries the service's name as `service`.
 * Served at `/metrics` on the probe port, and mountable anywhere through `metrics.handler`.
 *
 * prom-client looks a labelled series up by hashing its labels on every update; the wrappers keep
 * each series they touched in a map instead, so a call costs two map lookups and the updates.
 */
import type http from "node:http";
import type PromClient from "prom-client";
import type { CallWrapper } from "../client/client.js";
import { requireDriver } from "../driver/driver.js";
import type { HandlerWrapper } from "../server/server.js";
import { onOutcome, statusOf } from "./outcome.js";

type Prom = typeof PromClient;

export interface MetricsOptions {
  /** Where the metrics are registered (default: a registry of this service's own). */
  registry?: PromClient.Registry;
  /** Collect Node's process metrics (CPU, memory, event loop, GC; default true). */
  processMetrics?: boolean;
  /** Latency histogram buckets, in seconds. */
  buckets?: number[];
}

/** Lookups a registry cache answered from memory (hits) or had to ask the registry for (misses). */
export interface CacheLookups {
  readonly lookups: { readonly hits: number; readonly misses: number };
}

/** From half a millisecond (a call on one host) to ten seconds. */
export const DEFAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

let prom: Prom | undefined;

function loadProm(): Prom {
  prom ??= requireDriver<Prom>("prom-client", "metrics (MICRO_METRICS / the metrics option)");
  return prom;
}

/** Counter children by endpoint, then by status code. */
type Counters = Map<string, Map<number, PromClient.Counter.Internal>>;

export class Metrics {
  readonly registry: PromClient.Registry;
  private readonly prom: Prom;
  private readonly serverRequests: PromClient.Counter<string>;
  private readonly serverLatency: PromClient.Histogram<string>;
  private readonly serverInFlight: PromClient.Gauge<string>;
  private readonly clientCalls: PromClient.Counter<string>;
  private readonly clientLatency: PromClient.Histogram<string>;
  private readonly publishes: PromClient.Counter<string>;
  private readonly deliveries: PromClient.Counter<string>;

  constructor(service: string, options: MetricsOptions = {}) {
    this.prom = loadProm();
    const { Registry, Counter, Histogram, Gauge } = this.prom;
    this.registry = options.registry ?? new Registry();
    this.registry.setDefaultLabels({ service });
    const registers = [this.registry];
    const buckets = options.buckets ?? DEFAULT_BUCKETS;
    this.serverRequests = new Counter({
      name: "micro_server_requests_total",
      help: "Calls handled, by endpoint and status code",
      labelNames: ["endpoint", "code"],
      registers,
    });
    this.serverLatency = new Histogram({
      name: "micro_server_request_duration_seconds",
      help: "Time handling a call, by endpoint",
      labelNames: ["endpoint"],
      buckets,
      registers,
    });
    this.serverInFlight = new Gauge({ name: "micro_server_requests_in_flight", help: "Calls being handled, by endpoint", labelNames: ["endpoint"], registers });
    this.clientCalls = new Counter({
      name: "micro_client_calls_total",
      help: "Call attempts made, by called service, endpoint and status code",
      labelNames: ["target", "endpoint", "code"],
      registers,
    });
    this.clientLatency = new Histogram({
      name: "micro_client_call_duration_seconds",
      help: "Time a call attempt took, by called service and endpoint",
      labelNames: ["target", "endpoint"],
      buckets,
      registers,
    });
    this.publishes = new Counter({
      name: "micro_broker_publishes_total",
      help: "Messages published, by topic and result",
      labelNames: ["topic", "result"],
      registers,
    });
    this.deliveries = new Counter({
      name: "micro_broker_deliveries_total",
      help: "Messages delivered to subscribers, by topic and result",
      labelNames: ["topic", "result"],
      registers,
    });
    if (options.processMetrics !== false) this.prom.collectDefaultMetrics({ register: this.registry });
  }

  /** Counts the lookups of a registry cache (read when scraped). */
  watchCache(cache: CacheLookups): void {
    new this.prom.Counter({
      name: "micro_registry_cache_lookups_total",
      help: "Service lookups by the registry cache: answered from memory (hit) or from the registry (miss)",
      labelNames: ["result"],
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc({ result: "hit" }, cache.lookups.hits);
        this.inc({ result: "miss" }, cache.lookups.misses);
      },
    });
  }

  /** Server middleware: requests by code, latency and in-flight, per endpoint (Debug.* excluded). */
  handlerWrapper(): HandlerWrapper {
    const counters: Counters = new Map();
    const latency = new Map<string, PromClient.Histogram.Internal<string>>();
    const inFlight = new Map<string, PromClient.Gauge.Internal<string>>();
    return (next) => (request, ctx) => {
      const endpoint = request.endpoint;
      if (endpoint.startsWith("Debug.")) return next(request, ctx);
      const gauge = cached(inFlight, endpoint, () => this.serverInFlight.labels(endpoint));
      const histogram = cached(latency, endpoint, () => this.serverLatency.labels(endpoint));
      const started = performance.now();
      gauge.inc();
      const done = (err: unknown): void => {
        gauge.dec();
        histogram.observe((performance.now() - started) / 1000);
        this.counter(counters, this.serverRequests, endpoint, statusOf(err), [endpoint]).inc();
      };
      let result: Promise<unknown>;
      try {
        result = next(request, ctx);
      } catch (err) {
        done(err);
        throw err;
      }
      return onOutcome(result, done);
    };
  }

  /** Client middleware: attempts by called service, endpoint and code, and their latency. */
  callWrapper(): CallWrapper {
    const counters: Counters = new Map();
    const latency = new Map<string, PromClient.Histogram.Internal<string>>();
    return (next) => (node, request, deadline, signal) => {
      const key = `${request.service}\u0000${request.endpoint}`;
      const histogram = cached(latency, key, () => this.clientLatency.labels(request.service, request.endpoint));
      const started = performance.now();
      const done = (err: unknown): void => {
        histogram.observe((performance.now() - started) / 1000);
        this.counter(counters, this.clientCalls, key, statusOf(err), [request.service, request.endpoint]).inc();
      };
      let result: Promise<unknown>;
      try {
        result = next(node, request, deadline, signal);
      } catch (err) {
        done(err);
        throw err;
      }
      return result.then(
        (value) => {
          done(undefined);
          return value;
        },
        (err: unknown) => {
          done(err);
          throw err;
        },
      );
    };
  }

  published(topic: string, ok: boolean): void {
    this.publishes.labels(topic, ok ? "ok" : "error").inc();
  }

  delivered(topic: string, ok: boolean): void {
    this.deliveries.labels(topic, ok ? "ok" : "error").inc();
  }

  /** The metrics in Prometheus' text format. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
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

  private counter(counters: Counters, metric: PromClient.Counter<string>, key: string, code: number, labels: string[]): PromClient.Counter.Internal {
    const byCode = cached(counters, key, () => new Map());
    return cached(byCode, code, () => metric.labels(...labels, String(code)));
  }
}

/** The value of `key` in `map`, made and kept on first use. */
function cached<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}
