/**
 * The HTTP port for probes (Kubernetes liveness and readiness), with Go Micro's `health`
 * package routes and JSON:
 *   GET /health        the checks: 200 when up, 503 when a critical check fails
 *   GET /health/ready  the checks, and whether the service is registered: 200 or 503
 *   GET /health/live   200 {"status":"up"} while the process can answer at all
 *   GET /metrics       Prometheus metrics, when the service has them on (else 404 saying how)
 * Anything else is 404. It is a port of its own so that a probe never competes with RPC traffic
 * and never needs the RPC transport's framing.
 */
import type http from "node:http";
import type { AddressInfo } from "node:net";
import { builtin } from "../driver/driver.js";
import { joinHostPort, splitHostPort } from "../transport/tcp.js";
import type { HealthReport } from "./health.js";

/** node:http, loaded when a probe port is opened: a service without one does not load it. */
const nodeHttp = builtin<typeof http>("node:http");

export interface ProbeSources {
  /** Runs the health checks. */
  health: () => Promise<HealthReport>;
  /** Whether the service takes calls (registered and not stopping). */
  ready: () => boolean;
  /** Added to every full response as `info`. */
  info: () => Record<string, string>;
  /** The metrics in Prometheus' text format; absent when metrics are off. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
}

/** The parts of a probe address; a TypeError that says what is expected when it is not `host:port`. */
export function checkProbeAddress(address: string): { host: string; port: number } {
  const expected = `health address ${JSON.stringify(address)} is not host:port (e.g. :8081 or 127.0.0.1:8081)`;
  if (!address.includes(":")) throw new TypeError(expected);
  try {
    return splitHostPort(address);
  } catch {
    throw new TypeError(expected);
  }
}

export class ProbeServer {
  private constructor(
    private readonly server: http.Server,
    /** The bound address, `host:port`. */
    readonly address: string,
  ) {}

  /** Listens on `address` (`host:port`; an empty host listens on every interface). */
  static async listen(address: string, sources: ProbeSources): Promise<ProbeServer> {
    const { host, port } = checkProbeAddress(address);
    const server = nodeHttp().createServer((req, res) => {
      void respond(req, res, sources);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host || undefined, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const bound = server.address() as AddressInfo;
    return new ProbeServer(server, joinHostPort(bound.address, bound.port));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function respond(req: http.IncomingMessage, res: http.ServerResponse, sources: ProbeSources): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, { error: "use GET" });
  switch (path) {
    case "/health/live":
      return send(res, 200, { status: "up" });
    case "/health":
      return sendReport(res, await sources.health(), sources);
    case "/health/ready":
      return sendReport(res, withReadiness(await sources.health(), sources.ready()), sources);
    case "/metrics":
      return sendMetrics(res, sources);
    default:
      return send(res, 404, { error: `not found: ${path} (routes: /health, /health/live, /health/ready, /metrics)` });
  }
}

/** Readiness is the checks plus registration, reported as one more (critical) check. */
function withReadiness(report: HealthReport, ready: boolean): HealthReport {
  const registered = ready
    ? { name: "registered", status: "up" as const, duration: 0, critical: true }
    : { name: "registered", status: "down" as const, error: "not registered (starting or stopping)", duration: 0, critical: true };
  return { status: ready ? report.status : "down", checks: [...(report.checks ?? []), registered] };
}

function sendReport(res: http.ServerResponse, report: HealthReport, sources: ProbeSources): void {
  send(res, report.status === "up" ? 200 : 503, { ...report, info: sources.info() });
}

async function sendMetrics(res: http.ServerResponse, sources: ProbeSources): Promise<void> {
  if (!sources.metrics) return send(res, 404, { error: "metrics are off: start the service with MICRO_METRICS=1 (or the metrics option)" });
  try {
    const { contentType, body } = await sources.metrics();
    res.writeHead(200, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  } catch (err) {
    send(res, 500, { error: `collecting metrics failed: ${(err as Error).message}` });
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}
