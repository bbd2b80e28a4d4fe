/**
 * The HTTP API gateway: HTTP → RPC for every service in the registry, as `micro gateway` runs it
 * and as a program embeds it with `createGateway()`.
 *
 * Routes it owns:
 *   POST|GET /api/{service}/{Handler}/{Method}, /api/{service}/{Handler.Method}   a call (rpc.ts);
 *            server streams as SSE or NDJSON; client and bidi streams over WebSocket (websocket.ts)
 *   POST /api/publish/{topic}, /micro/broker/{topic}                               publish a message
 *   GET  /health, /health/live, /health/ready                                      probes
 *   GET  /openapi.json                                                            OpenAPI 3.1 (openapi.ts)
 *   GET  /metrics                                  Prometheus metrics, when metrics are on (observed.ts)
 * Everything else goes to the mounts (the dashboard at `/`, MCP at `/mcp`), the longest matching
 * prefix first; with none, 404.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { Auth } from "../auth/auth.js";
import type { Broker } from "../broker/broker.js";
import type { Client } from "../client/client.js";
import { Codecs, ContentType } from "../codec/index.js";
import { HealthChecks, type HealthReport } from "../debug/health.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import { NO_TRACE, type TraceHeaders } from "../metadata/headers.js";
import type { Metrics } from "../observe/metrics.js";
import { Observability, type ObserveOptions } from "../observe/observe.js";
import { CacheRegistry } from "../registry/cache.js";
import type { Registry } from "../registry/registry.js";
import { Authorizer } from "../server/authorize.js";
import { createClient } from "../service/create-client.js";
import { resolveAuth, resolveRegistry } from "../service/resolve.js";
import { joinHostPort, splitHostPort } from "../transport/tcp.js";
import { Cors, type CorsOptions } from "./cors.js";
import { GatewayObserver } from "./observed.js";
import { OpenApiDocument } from "./openapi.js";
import { RateLimiter, type RateLimitOptions } from "./rate-limit.js";
import { DEFAULT_METADATA_HEADERS, HeaderAllowList, jsonBody, readBody } from "./request.js";
import { GATEWAY_ERROR_ID, gatewayError, sendError, sendJson } from "./respond.js";
import { authorize, callMetadata, knownRoute, passThroughJson, type RpcContext, serveRpc } from "./rpc.js";
import { WebSocketStreams } from "./websocket.js";

export type { CorsOptions } from "./cors.js";
export type { RateLimitOptions } from "./rate-limit.js";

/** A handler for paths the gateway does not own: the dashboard at `/`, the MCP gateway at `/mcp`. */
export interface GatewayMount {
  /** `/` for everything else, or a path such as `/mcp` (matching `/mcp` and `/mcp/…`). */
  prefix: string;
  /**
   * `trace`: the trace headers (`traceparent` …) naming the gateway's span for this request,
   * empty when tracing is off. A mount puts them in the metadata of the calls it makes for the
   * request, so that they join the request's trace as the gateway's own `/api` calls do.
   */
  handle(req: IncomingMessage, res: ServerResponse, trace: TraceHeaders): void | Promise<void>;
  /**
   * WebSocket (or other) upgrades under the prefix; without it they are refused. `trace` names
   * the gateway's span for the socket, as in `handle`: the stream the socket runs carries it.
   */
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer, trace: TraceHeaders): void;
  /** Called as the gateway closes: ends what the mount keeps open (event streams would hold the server). */
  close?(): void | Promise<void>;
}

export interface GatewayOptions {
  /** `host:port` to listen on (default `:8080`; an empty host listens on every interface, port 0 picks one). */
  address?: string;
  /** Where services are found (default: `MICRO_REGISTRY`, as a service picks it). */
  registry?: Registry;
  /**
   * The client calls go through (default: one of the gateway's own, on `registry`, that passes
   * JSON through undecoded). Used as given: with tracing, the request's span is its calls'
   * parent through their metadata, but the gateway adds no CLIENT span to it (a client's wrappers
   * are fixed when it is made); create it with `Tracing`'s call and stream wrappers for one
   * (docs/observability.md, "Through the gateway").
   */
  client?: Client;
  /** Where `/api/publish/{topic}` publishes (default: `MICRO_BROKER`, as a service picks it). Ignored with `client`. */
  broker?: Broker;
  /**
   * Checks callers (default: `MICRO_AUTH` when it is set to anything but noop): a Bearer token
   * and the rules for `service:<service>:<Handler.Method>` (publishing: `topic:<topic>:publish`),
   * 401/403 otherwise. The token is forwarded to the service as the call's Authorization.
   */
  auth?: Auth;
  /** Cross-origin access for browsers (default: none). */
  cors?: CorsOptions;
  /** Largest request body (and WebSocket message) in bytes (default 1 MiB); larger gets 413. */
  bodyLimit?: number;
  /** Largest request head in bytes (default 16 KiB); larger gets 431. */
  maxHeaderSize?: number;
  /** Most request headers read (default 100); the rest are ignored. */
  maxHeadersCount?: number;
  /** Ms a client has to send its request head (default 10 s): bounds slowloris clients. */
  headersTimeout?: number;
  /** Ms a client has to send its whole request (default 30 s). Responses (streams) are not bounded by it. */
  requestTimeout?: number;
  /** Per-client (remote address) request rate; default none. */
  rateLimit?: RateLimitOptions;
  /** Deadline of a call when the request sets none with `Micro-Timeout`, in ms (default 30 s). */
  timeout?: number;
  /** Request headers passed to services as call metadata, besides Authorization; `x-foo-*` for a prefix (default: DEFAULT_METADATA_HEADERS). */
  metadataHeaders?: readonly string[];
  /** Handlers for the paths the gateway does not own. */
  mounts?: readonly GatewayMount[];
  logger?: Logger;
  /** Ms the registry has to answer a readiness probe (default 2 s). */
  healthTimeout?: number;
  /** Ms calls in flight have to finish on close() before their connections are cut (default 10 s). */
  gracePeriod?: number;
  /** Prometheus metrics at `/metrics` (default `MICRO_METRICS`): requests by route, method and status, the gateway client's calls, the process. */
  metrics?: ObserveOptions["metrics"];
  /** OpenTelemetry spans (default `MICRO_TRACING`): one per request, the parent of the calls made for it (see observed.ts). */
  tracing?: ObserveOptions["tracing"];
}

export interface Gateway {
  /** The address it listens on, `host:port`. */
  readonly address: string;
  /** `http://host:port`, with a loopback host when it listens on every interface. */
  readonly url: string;
  readonly server: http.Server;
  /** Stops taking requests, ends open streams, releases what the gateway created. */
  close(): Promise<void>;
}

const DEFAULTS = {
  address: ":8080",
  bodyLimit: 1024 * 1024,
  maxHeaderSize: 16 * 1024,
  maxHeadersCount: 100,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  timeout: 30_000,
  healthTimeout: 2_000,
  gracePeriod: 10_000,
};

/** Starts a gateway; resolves once it listens. */
export async function createGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const log = options.logger ?? defaultLogger();
  const observed = new Observability("gateway", { metrics: options.metrics, tracing: options.tracing });
  const ownsRegistry = options.registry === undefined;
  const registry = options.registry ?? resolveRegistry(undefined, undefined, { logger: log });
  const lookup = registry instanceof CacheRegistry ? registry : new CacheRegistry(registry, { logger: log });
  const client =
    options.client ??
    createClient({
      registry: lookup,
      broker: options.broker,
      logger: log,
      codecs: new Codecs().register(passThroughJson),
      timeout: options.timeout,
      wrappers: observed.callWrappers(),
      streamWrappers: observed.streamWrappers(),
      // No token of its own (not even MICRO_AUTH_TOKEN): a caller without one must not get the gateway's rights.
      token: "",
    });
  const auth = options.auth ?? authFromEnv();
  const bodyLimit = options.bodyLimit ?? DEFAULTS.bodyLimit;
  const context: RpcContext = {
    client,
    lookup,
    raw: options.client === undefined,
    headers: new HeaderAllowList(options.metadataHeaders ?? DEFAULT_METADATA_HEADERS),
    timeout: options.timeout ?? DEFAULTS.timeout,
    bodyLimit,
    authorizer: auth && auth.name !== "noop" ? new Authorizer(auth, GATEWAY_ERROR_ID) : undefined,
    streams: new Set(),
  };
  const routes = new Routes(context, registry, options, log, observed.metrics);
  if (observed.metrics || observed.tracing) {
    observed.metrics?.watchCache(lookup);
    context.observer = new GatewayObserver(observed.metrics, observed.tracing, (path) => routes.routeOf(path));
  }
  const server = http.createServer({
    maxHeaderSize: options.maxHeaderSize ?? DEFAULTS.maxHeaderSize,
    headersTimeout: options.headersTimeout ?? DEFAULTS.headersTimeout,
    requestTimeout: options.requestTimeout ?? DEFAULTS.requestTimeout,
    // Node checks the two timeouts above only this often (default 30 s): slow clients are cut
    // within about a second of their limit rather than up to half a minute later.
    connectionsCheckingInterval: Math.min(1_000, options.headersTimeout ?? DEFAULTS.headersTimeout),
    keepAliveTimeout: 5_000,
  });
  server.maxHeadersCount = options.maxHeadersCount ?? DEFAULTS.maxHeadersCount;
  server.on("request", routes.request);
  server.on("upgrade", routes.upgrade);
  // Garbage on the port: answer 400 and close that connection; the gateway keeps serving.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const status =
      err.code === "HPE_HEADER_OVERFLOW"
        ? "431 Request Header Fields Too Large"
        : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? "408 Request Timeout"
          : "400 Bad Request";
    // Then closed outright: a client still sending would keep a half-closed socket open.
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
  });
  /** Releases what the gateway created (its client, caches, registry and auth), not what it was given. */
  const release = async (): Promise<void> => {
    routes.close();
    if (!options.client) await client.close();
    if (lookup !== registry) await lookup.close();
    if (ownsRegistry && registry.name !== "memory") await registry.close();
    if (!options.auth && auth) await auth.close();
  };
  try {
    const { host, port } = splitHostPort(options.address ?? DEFAULTS.address);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host || undefined, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    await release(); // a port in use must not leave connections keeping the process alive
    throw err;
  }
  routes.openapi.watch();
  const bound = server.address() as AddressInfo;
  const address = joinHostPort(bound.address, bound.port);
  const loopback =
    bound.address === "::" ? "[::1]" : bound.address === "0.0.0.0" ? "127.0.0.1" : bound.address.includes(":") ? `[${bound.address}]` : bound.address;
  let closing: Promise<void> | undefined;
  return {
    address,
    url: `http://${loopback}:${bound.port}`,
    server,
    close: () => {
      closing ??= (async () => {
        // Stop accepting; idle keep-alive connections close now, calls in flight get the grace
        // period to finish; streams (SSE, NDJSON, WebSocket) are ended at once, as they may never end.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        routes.close();
        await Promise.all((options.mounts ?? []).map((mount) => mount.close?.()));
        for (const res of context.streams) res.destroy();
        const grace = setTimeout(() => server.closeAllConnections(), options.gracePeriod ?? DEFAULTS.gracePeriod);
        await closed;
        clearTimeout(grace);
        await release();
      })();
      return closing;
    },
  };
}

/** The auth named by `MICRO_AUTH`, when it names one. */
function authFromEnv(): Auth | undefined {
  const name = process.env.MICRO_AUTH;
  return name && name !== "noop" ? resolveAuth(name) : undefined;
}

/** The trace headers a mount gets when the request has no span. */

/** Paths the gateway answers itself (besides /api/…), counted under their own names. */
const OWN_PATHS = new Set(["/health", "/health/live", "/health/ready", "/openapi.json", "/metrics"]);

/** The request and upgrade handlers. */
class Routes {
  readonly openapi: OpenApiDocument;
  private readonly websockets: WebSocketStreams;
  private readonly health = new HealthChecks();
  private readonly cors: Cors | undefined;
  private readonly limiter: RateLimiter | undefined;
  private readonly mounts: readonly GatewayMount[];

  constructor(
    private readonly context: RpcContext,
    registry: Registry,
    options: GatewayOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics | undefined,
  ) {
    this.openapi = new OpenApiDocument(registry, { title: "ts-micro gateway", version: "1.0.0" }, log);
    this.websockets = new WebSocketStreams(context);
    this.health.check("registry", () => registry.listServices(), { timeout: options.healthTimeout ?? DEFAULTS.healthTimeout });
    this.cors = options.cors && new Cors(options.cors);
    this.limiter = options.rateLimit && new RateLimiter(options.rateLimit);
    // Longest prefix first, so `/mcp` wins over `/` whatever order they were given in.
    this.mounts = [...(options.mounts ?? [])].sort((a, b) => b.prefix.length - a.prefix.length);
  }

  close(): void {
    this.openapi.stop();
    this.websockets.close();
  }

  readonly request = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? "" : url.slice(q + 1);
    this.context.observer?.request(req, res, path);
    void this.route(req, res, path, query).catch((err: unknown) => {
      this.log.error("gateway: request failed", { url: req.url, error: (err as Error).message });
      if (!res.headersSent) sendError(res, err);
      else res.destroy();
    });
  };

  private async route(req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void> {
    if (this.limited(req, res)) return;
    if (this.cors?.apply(req, res)) return;
    if (path.startsWith("/api/")) {
      if (path.startsWith("/api/publish/")) return this.publish(req, res, path.slice("/api/publish/".length));
      return serveRpc(this.context, req, res, path.slice(5), query);
    }
    if (path.startsWith("/micro/broker/")) return this.publish(req, res, path.slice("/micro/broker/".length));
    switch (path) {
      case "/health":
      case "/health/ready":
        return this.report(req, res, await this.health.run());
      case "/health/live":
        return this.report(req, res, { status: "up" });
      case "/openapi.json":
        return this.openApi(req, res);
      case "/metrics":
        if (this.metrics) return this.serveMetrics(req, res, this.metrics);
    }
    const mount = this.mountFor(path);
    if (mount) return mount.handle(req, res, this.context.observer?.traceHeader(req) ?? NO_TRACE);
    sendError(res, gatewayError(404, `not found: ${path}`));
  }

  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => {});
    const path = (req.url ?? "/").split("?")[0];
    this.context.observer?.upgrade(req, socket, path);
    if (path.startsWith("/api/")) {
      void this.websockets.upgrade(req, socket, head, path.slice(5)).catch((err: unknown) => {
        this.log.error("gateway: WebSocket upgrade failed", { url: req.url, error: (err as Error).message });
        socket.destroy();
      });
      return;
    }
    const mount = this.mountFor(path);
    if (mount?.upgrade) return mount.upgrade(req, socket, head, this.context.observer?.traceHeader(req) ?? NO_TRACE);
    socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  };

  /**
   * The route `path` is counted and its span named under: the endpoint for a call the registry
   * cache knows, else a template or a name the gateway knows, never a path as the client sent it.
   */
  routeOf(path: string): string {
    if (path.startsWith("/api/publish/")) return "/api/publish/{topic}";
    if (path.startsWith("/micro/broker/")) return "/micro/broker/{topic}";
    if (path.startsWith("/api/")) return knownRoute(this.context.lookup, path.slice(5)) ?? "/api/{unknown}";
    if (OWN_PATHS.has(path) && (path !== "/metrics" || this.metrics)) return path;
    return this.mountFor(path)?.prefix ?? "{unknown}";
  }

  private mountFor(path: string): GatewayMount | undefined {
    for (const mount of this.mounts) {
      const prefix = mount.prefix.endsWith("/") ? mount.prefix.slice(0, -1) : mount.prefix;
      if (prefix === "" || path === prefix || path.startsWith(`${prefix}/`)) return mount;
    }
    return undefined;
  }

  /** True when the client is over its rate (answered 429). */
  private limited(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.limiter) return false;
    const wait = this.limiter.take(req.socket.remoteAddress ?? "");
    if (wait === 0) return false;
    sendError(res, gatewayError(429, "too many requests"), { "Retry-After": String(wait) });
    return true;
  }

  /** POST a JSON message to `topic` through the client's broker. */
  private async publish(req: IncomingMessage, res: ServerResponse, rawTopic: string): Promise<void> {
    try {
      if (req.method !== "POST") throw gatewayError(405, "use POST to publish");
      let topic: string;
      try {
        topic = decodeURIComponent(rawTopic);
      } catch {
        throw gatewayError(400, "malformed topic");
      }
      if (!topic || topic.includes("/")) throw gatewayError(404, "publish to /api/publish/{topic}");
      await authorize(this.context, { type: "topic", name: topic, endpoint: "publish" }, req);
      const body = jsonBody(await readBody(req, this.context.bodyLimit));
      // Bytes would go out as application/octet-stream unless the type is said.
      const payload = this.context.raw ? body : JSON.parse(body.toString("utf8"));
      await this.context.client.publish(topic, payload, { metadata: callMetadata(this.context, req), contentType: ContentType.json });
      sendJson(res, 200, JSON.stringify({ status: "ok", topic }));
    } catch (err) {
      sendError(res, err);
    }
  }

  private report(req: IncomingMessage, res: ServerResponse, report: HealthReport): void {
    if (req.method !== "GET" && req.method !== "HEAD") return sendError(res, gatewayError(405, "use GET"));
    sendJson(res, report.status === "up" ? 200 : 503, JSON.stringify(report));
  }

  private serveMetrics(req: IncomingMessage, res: ServerResponse, metrics: Metrics): void {
    if (req.method !== "GET" && req.method !== "HEAD") return sendError(res, gatewayError(405, "use GET"));
    metrics.handler(req, res);
  }

  private async openApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD") return sendError(res, gatewayError(405, "use GET"));
    try {
      sendJson(res, 200, await this.openapi.text());
    } catch (err) {
      sendError(res, gatewayError(503, `registry: listing services failed: ${(err as Error).message}`));
    }
  }
}
