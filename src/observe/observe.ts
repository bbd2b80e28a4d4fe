/**
 * What a service observes about itself, decided once when it is created: metrics (`metrics`
 * option or `MICRO_METRICS=1`) and tracing (`tracing` option or `MICRO_TRACING=1`), both off by
 * default. Turned on, each adds a handler wrapper, call and stream wrappers and a broker decorator; turned
 * off, nothing is added, so the call path is exactly what it is without this module.
 */
import type { Broker } from "../broker/broker.js";
import type { CallWrapper, StreamWrapper } from "../client/client.js";
import type { Stream } from "../events/events.js";
import type { HandlerWrapper } from "../server/server.js";
import { ObservedBroker } from "./broker.js";
import { ObservedStream } from "./events.js";
import { Metrics, type MetricsOptions } from "./metrics.js";
import { Tracing, type TracingOptions } from "./tracing.js";

export interface ObserveOptions {
  /** Prometheus metrics (needs prom-client); default `MICRO_METRICS`, else off. */
  metrics?: boolean | MetricsOptions;
  /** OpenTelemetry spans (needs @opentelemetry/api); default `MICRO_TRACING`, else off. */
  tracing?: boolean | TracingOptions;
}

export class Observability {
  readonly metrics: Metrics | undefined;
  readonly tracing: Tracing | undefined;

  constructor(service: string, options: ObserveOptions = {}) {
    const metrics = options.metrics ?? switchFromEnv("MICRO_METRICS");
    const tracing = options.tracing ?? switchFromEnv("MICRO_TRACING");
    this.metrics = metrics ? new Metrics(service, metrics === true ? {} : metrics) : undefined;
    this.tracing = tracing ? new Tracing(tracing === true ? {} : tracing) : undefined;
  }

  /** Outermost first: the span covers the whole call, metrics count calls that auth refuses. */
  handlerWrappers(): HandlerWrapper[] {
    return [this.tracing?.handlerWrapper(), this.metrics?.handlerWrapper()].filter((w) => w !== undefined);
  }

  callWrappers(): CallWrapper[] {
    return [this.tracing?.callWrapper(), this.metrics?.callWrapper()].filter((w) => w !== undefined);
  }

  streamWrappers(): StreamWrapper[] {
    return [this.tracing?.streamWrapper(), this.metrics?.streamWrapper()].filter((w) => w !== undefined);
  }

  /** `stream`, observed when metrics or tracing are on. */
  events(stream: Stream): Stream {
    return this.metrics || this.tracing ? new ObservedStream(stream, { metrics: this.metrics, tracing: this.tracing }) : stream;
  }

  /** `broker`, observed when metrics or tracing are on. */
  broker(broker: Broker): Broker {
    return this.metrics || this.tracing ? new ObservedBroker(broker, { metrics: this.metrics, tracing: this.tracing }) : broker;
  }
}

/** An on/off env var: 1/true/on/yes or 0/false/off/no (unset: off); anything else is a mistake worth stopping for. */
export function switchFromEnv(name: string): boolean {
  const raw = process.env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === "" || raw === "0" || raw === "false" || raw === "off" || raw === "no") return false;
  if (raw === "1" || raw === "true" || raw === "on" || raw === "yes") return true;
  throw new TypeError(`${name}=${JSON.stringify(process.env[name])}: expected 1/true/on or 0/false/off`);
}
