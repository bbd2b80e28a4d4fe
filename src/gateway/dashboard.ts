/**
 * The web dashboard, as a mount the gateway serves at "/": the built UI (src/web, bundled by Vite
 * into dist/web) and the JSON and Server-Sent-Events endpoints it reads under `/dashboard/api/`.
 *
 * Everything the browser sees comes from the framework's own parts: the registry (records and a
 * live watch), the client (calls, server streams, `Debug.Health`), the broker (publish, live
 * subscriptions) and, when given, the durable events stream. A call, stream or subscription
 * started for a browser ends when that browser goes away.
 *
 * Go Micro's dashboard (`micro server`) lists services and shows a form whose POST only echoes the
 * body; this one makes the call, streams, publishes and subscribes, and follows the registry live.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import type { Duplex } from "node:stream";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { Broker, BrokerEvent } from "../broker/broker.js";
import { HTTP_BROKER_SERVICE } from "../broker/http.js";
import type { Client } from "../client/client.js";
import { publishPayload } from "../client/publish.js";
import { defaultCodecs, displayableBody } from "../codec/index.js";
import { ErrorId, MicroError, type MicroErrorJSON } from "../errors/errors.js";
import { eventView, type Stream, type TopicInfo } from "../events/events.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import { headerValue, MicroHeader, NO_TRACE, type TraceHeaders } from "../metadata/headers.js";
import type { Registry, ServiceRecord, Watcher } from "../registry/registry.js";
import type { Filter } from "../selector/selector.js";
import { BodyTooLargeError, readBody as readLimitedBody } from "../transport/http/body.js";
import { HeaderAllowList } from "./request.js";
import { WebSocketStreams } from "./websocket.js";

export interface DashboardOptions {
  registry: Registry;
  /** Makes the calls, streams and health checks. */
  client: Client;
  /** Publishes and subscribes for the Topics page. */
  broker: Broker;
  /** Durable events for the Events page; without it the page says so. */
  events?: Stream;
  /** Directory of the built UI (default: dist/web of this package). */
  assets?: string;
  /** Deadline of a call from the call form, in ms (default 30 s). */
  callTimeout?: number;
  /** Largest request body accepted, in bytes (default 1 MiB). */
  maxBody?: number;
  logger?: Logger;
}

/** What the gateway mounts: requests under `prefix` go to `handle`. */
export interface DashboardMount {
  readonly prefix: string;
  /** `trace`: the gateway's span for the request (see GatewayMount.handle), carried by the calls, streams and publishes made for it. */
  handle(req: IncomingMessage, res: ServerResponse, trace?: TraceHeaders): Promise<void>;
  /**
   * WebSocket upgrades: `/dashboard/api/socket/{service}/{Handler.Method}` runs a client or
   * bidirectional stream the browser writes to message by message, in the gateway's WebSocket
   * protocol (src/gateway/websocket.ts); anything else is refused with 404. `trace`: the
   * gateway's span for the socket (see GatewayMount.upgrade), carried by the stream.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, trace?: TraceHeaders): void;
  /**
   * Ends the open event streams (registry watch, streams, subscriptions), which would otherwise
   * keep the HTTP server from closing; call it when the server shuts down.
   */
  close(): void;
}

/** Where the data endpoints live, below the mount. */
export const DASHBOARD_API = "/dashboard/api/";
/** Where the call form opens its WebSocket streams, followed by `{service}/{Handler.Method}`. */
const SOCKET_PATH = `${DASHBOARD_API}socket/`;

const ERROR_ID = "dashboard";
/** Services the framework registers for itself, which the UI folds away as `micro services` does. */
const INTERNAL_SERVICES = [HTTP_BROKER_SERVICE, "go.micro.http.broker"];
const HEARTBEAT_MS = 15_000;
/** Registry events come in bursts (several nodes start or stop together): one snapshot per burst. */
const SNAPSHOT_DELAY_MS = 100;
/** Pause before watching a registry again after its watch failed. */
const REWATCH_MS = 2_000;

/** `trace`: the metadata that joins what the route does to the request's trace (empty without one). */
type Route = (req: IncomingMessage, res: ServerResponse, url: URL, trace: TraceHeaders) => Promise<void>;

export function createDashboard(options: DashboardOptions): DashboardMount {
  const api = new DashboardApi(options);
  const assets = new Assets(options.assets ?? defaultAssetsDir());
  const log = options.logger ?? defaultLogger();
  const sockets = dashboardSockets(options);
  return {
    prefix: "/",
    async handle(req, res, trace = NO_TRACE) {
      const url = new URL(req.url ?? "/", "http://dashboard");
      try {
        if (url.pathname.startsWith(DASHBOARD_API)) await api.route(req, res, url, trace);
        else assets.serve(req, res, url.pathname);
      } catch (err) {
        const error = MicroError.from(err, ERROR_ID);
        if (error.code >= 500) log.warn("dashboard request failed", { path: url.pathname, error: error.detail });
        sendError(res, error);
      }
    },
    upgrade(req, socket, head, trace = NO_TRACE) {
      socket.on("error", () => {});
      const path = (req.url ?? "/").split("?")[0];
      if (!path.startsWith(SOCKET_PATH)) {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      // The path alone names the stream: a query string would be read as a server stream's request.
      req.url = path;
      void sockets.upgrade(req, socket, head, path.slice(SOCKET_PATH.length), trace).catch((err: unknown) => {
        log.warn("dashboard WebSocket upgrade failed", { path, error: (err as Error).message });
        socket.destroy();
      });
    },
    close: () => {
      api.close();
      sockets.close();
    },
  };
}

/**
 * The gateway's WebSocket streams on the dashboard's own client: calls go out as the dashboard's
 * other calls do (no gateway auth of their own, no headers forwarded but Authorization).
 */
function dashboardSockets(options: DashboardOptions): WebSocketStreams {
  return new WebSocketStreams({
    client: options.client,
    lookup: options.registry,
    raw: false,
    headers: new HeaderAllowList([]),
    timeout: options.callTimeout ?? 30_000,
    bodyLimit: options.maxBody ?? 1024 * 1024,
    authorizer: undefined,
    streams: new Set(),
  });
}

/**
 * dist/web beside dist/src (compiled: this file is dist/src/gateway/dashboard.js) or beside
 * dist/bundle (the package entry: dist/bundle/extra.js), or the repository's dist/web when run
 * from source.
 */
function defaultAssetsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const built = [path.resolve(here, "..", "..", "web"), path.resolve(here, "..", "web")].find((dir) => fs.existsSync(path.join(dir, "index.html")));
  return built ?? path.resolve(here, "..", "..", "dist", "web");
}

class DashboardApi {
  private readonly routes: Record<string, Route>;
  private readonly callTimeout: number;
  private readonly maxBody: number;
  private readonly feed: RegistryFeed;
  private readonly streams = new Set<ServerResponse>();

  constructor(private readonly options: DashboardOptions) {
    this.feed = new RegistryFeed(options.registry);
    this.callTimeout = options.callTimeout ?? 30_000;
    this.maxBody = options.maxBody ?? 1024 * 1024;
    this.routes = {
      "GET info": async (_req, res) =>
        sendJson(res, 200, { registry: options.registry.name, broker: options.broker.name, events: options.events?.name ?? null, internal: INTERNAL_SERVICES }),
      "GET services": async (_req, res) => sendJson(res, 200, await snapshot(options.registry)),
      "GET watch": (req, res) => this.watch(req, res),
      "GET health": (_req, res, url, trace) => this.health(res, url, trace),
      "POST call": (req, res, _url, trace) => this.call(req, res, trace),
      "GET stream": (req, res, url, trace) => this.stream(req, res, url, trace),
      "POST publish": (req, res, _url, trace) => this.publish(req, res, trace),
      "GET subscribe": (req, res, url) => this.subscribe(req, res, url),
      "POST events/publish": (req, res) => this.publishEvent(req, res),
      "GET events/subscribe": (req, res, url) => this.consumeEvents(req, res, url),
      "GET events/topics": (_req, res) => this.eventTopics(res),
    };
  }

  /** Ends every open event stream (browsers see the end and reconnect to whoever serves next). */
  close(): void {
    for (const res of this.streams) res.end();
  }

  private open(req: IncomingMessage, res: ServerResponse): EventStream {
    this.streams.add(res);
    res.once("close", () => this.streams.delete(res));
    return openEventStream(req, res);
  }

  async route(req: IncomingMessage, res: ServerResponse, url: URL, trace: TraceHeaders): Promise<void> {
    const name = url.pathname.slice(DASHBOARD_API.length);
    const route = this.routes[`${req.method} ${name}`];
    if (route) return route(req, res, url, trace);
    const known = Object.keys(this.routes).some((key) => key.endsWith(` ${name}`));
    if (known) throw MicroError.methodNotAllowed(ERROR_ID, `${req.method} is not allowed on ${url.pathname}`);
    throw MicroError.notFound(ERROR_ID, `no dashboard endpoint ${url.pathname}`);
  }

  /** Every registry change as a fresh snapshot of all services, the first one at once. */
  private async watch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sse = this.open(req, res);
    const send = (event: "services" | "failure", data: unknown): void => sse.send(event, data);
    sse.signal.addEventListener("abort", () => this.feed.leave(send), { once: true });
    if (!sse.signal.aborted) await this.feed.join(send);
  }

  /**
   * `Debug.Health` of one node. The node is picked from the registry record (not dialled by
   * address alone) so the client speaks the transport the node advertises, mux or Go Micro's HTTP.
   * `unsupported`: the node answered but serves no Debug handler (Go Micro's services do not
   * register one); `unreachable`: it did not answer.
   */
  private async health(res: ServerResponse, url: URL, trace: TraceHeaders): Promise<void> {
    const service = required(url.searchParams.get("service"), "service");
    const address = required(url.searchParams.get("address"), "address");
    const atAddress: Filter = (services) =>
      services.map((s) => ({ ...s, nodes: s.nodes.filter((n) => n.address === address) })).filter((s) => s.nodes.length > 0);
    try {
      const answer = await this.options.client.call<{ status?: string }>(
        service,
        "Debug.Health",
        {},
        {
          filters: [atAddress],
          timeout: 3_000,
          retries: 0,
          metadata: trace,
        },
      );
      sendJson(res, 200, { status: answer?.status ?? "unknown" });
    } catch (err) {
      const error = MicroError.from(err, ERROR_ID);
      sendJson(res, 200, { status: lacksDebugHandler(error) ? "unsupported" : "unreachable", error: error.toJSON() });
    }
  }

  private async call(req: IncomingMessage, res: ServerResponse, trace: TraceHeaders): Promise<void> {
    const body = await this.readJson(req);
    const { service, endpoint } = target(body);
    const controller = abortOnDisconnect(req, res);
    const timeout = typeof body.timeout === "number" && body.timeout > 0 ? body.timeout : this.callTimeout;
    const response = await this.options.client.call(service, endpoint, body.request ?? {}, { timeout, signal: controller.signal, metadata: trace });
    sendJson(res, 200, { response: response ?? null });
  }

  /**
   * A stream's messages as events; `end` or `failure` closes it. The request is a server stream's
   * one request or, with `each=true`, a JSON array sent message by message (client and
   * bidirectional streams).
   */
  private async stream(req: IncomingMessage, res: ServerResponse, url: URL, trace: TraceHeaders): Promise<void> {
    const service = required(url.searchParams.get("service"), "service");
    const endpoint = required(url.searchParams.get("endpoint"), "endpoint");
    const request = parseJson(url.searchParams.get("request") ?? "{}", "request");
    const each = url.searchParams.get("each") === "true";
    if (each && !Array.isArray(request)) throw MicroError.badRequest(ERROR_ID, "with each=true the request must be a JSON array of messages");
    const input = each ? messagesOf(request as unknown[]) : request;
    const sse = this.open(req, res);
    try {
      for await (const message of this.options.client.stream(service, endpoint, input, { signal: sse.signal, metadata: trace })) {
        if (sse.signal.aborted) break;
        sse.send("message", message ?? null);
      }
      sse.send("end", {});
    } catch (err) {
      if (!sse.signal.aborted) sse.send("failure", MicroError.from(err, ERROR_ID).toJSON());
    } finally {
      sse.end();
    }
  }

  private async publish(req: IncomingMessage, res: ServerResponse, trace: TraceHeaders): Promise<void> {
    const body = await this.readJson(req);
    const topic = required(typeof body.topic === "string" ? body.topic : null, "topic");
    await publishPayload(this.options.broker, defaultCodecs, topic, body.message ?? null, { from: ERROR_ID, metadata: trace });
    sendJson(res, 200, { topic });
  }

  /** A live subscription (fan-out, no queue) for as long as the browser listens. */
  private async subscribe(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const topic = required(url.searchParams.get("topic"), "topic");
    const sse = this.open(req, res);
    await follow(
      sse,
      topic,
      () => this.options.broker.subscribe(topic, (event) => sse.send("message", brokerMessage(event))),
      (s) => s.unsubscribe(),
    );
  }

  private async publishEvent(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const events = this.requireEvents();
    const body = await this.readJson(req);
    const topic = required(typeof body.topic === "string" ? body.topic : null, "topic");
    await events.publish(topic, body.payload ?? null);
    sendJson(res, 200, { topic });
  }

  /**
   * The topics the events backend keeps. `local` says the backend lives in this process (memory):
   * it holds only what was published through this process, not the events of other services.
   */
  private async eventTopics(res: ServerResponse): Promise<void> {
    const events = this.requireEvents();
    const local = events.name === "memory";
    if (!events.topics) return sendJson(res, 200, { backend: events.name, local, topics: null });
    let topics: TopicInfo[];
    try {
      topics = await events.topics();
    } catch (err) {
      throw MicroError.unavailable(ERROR_ID, `events (${events.name}): listing topics failed: ${(err as Error).message}`);
    }
    sendJson(res, 200, {
      backend: events.name,
      local,
      topics: topics.map((t) => ({ ...t, lastTimestamp: t.lastTimestamp?.toISOString() })),
    });
  }

  /** A durable topic from `offset` (default: the first event) as events, without a group. */
  private async consumeEvents(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const events = this.requireEvents();
    const topic = required(url.searchParams.get("topic"), "topic");
    const offset = Number(url.searchParams.get("offset") ?? "1");
    if (!Number.isInteger(offset) || offset < 1) throw MicroError.badRequest(ERROR_ID, "offset must be a whole number ≥ 1");
    const sse = this.open(req, res);
    await follow(
      sse,
      topic,
      () => events.consume(topic, (event) => sse.send("message", eventView(event)), { offset }),
      (c) => c.stop(),
    );
  }

  private requireEvents(): Stream {
    if (!this.options.events) throw MicroError.unavailable(ERROR_ID, "no events stream is configured for this dashboard");
    return this.options.events;
  }

  private async readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
    const text = await readBody(req, this.maxBody);
    const value = parseJson(text || "{}", "body");
    if (!value || typeof value !== "object" || Array.isArray(value)) throw MicroError.badRequest(ERROR_ID, "the body must be a JSON object");
    return value as Record<string, unknown>;
  }
}

/**
 * Starts a subscription for an event stream and ends it when the browser goes; a subscription
 * that cannot start is reported on the stream (its headers are already sent) and closes it.
 */
async function follow<T>(sse: EventStream, topic: string, start: () => Promise<T>, stop: (subscription: T) => Promise<void>): Promise<void> {
  let subscription: T;
  try {
    subscription = await start();
  } catch (err) {
    sse.send("failure", MicroError.from(err, ERROR_ID).toJSON());
    sse.end();
    return;
  }
  if (sse.signal.aborted) return stop(subscription);
  sse.signal.addEventListener("abort", () => void stop(subscription), { once: true });
  sse.send("subscribed", { topic });
}

/** The node answered, refusing the endpoint (Go Micro: "rpc: can't find service Debug"), rather than not answering. */
function lacksDebugHandler(error: MicroError): boolean {
  if (error.id === ErrorId.client) return false;
  return error.code === 404 || /can't find (service|method)|unknown (service|handler|endpoint|method)|not found/i.test(error.detail);
}

async function* messagesOf(messages: unknown[]): AsyncIterable<unknown> {
  yield* messages;
}

type FeedListener = (event: "services" | "failure", data: unknown) => void;

/**
 * One registry watch shared by every open dashboard: it starts with the first browser, stops
 * with the last, and turns each burst of changes into one snapshot sent to all of them.
 */
class RegistryFeed {
  private readonly listeners = new Set<FeedListener>();
  private watcher: Watcher | undefined;
  private pending: NodeJS.Timeout | undefined;
  /** Broadcasts sent so far. */
  private sent = 0;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly registry: Registry) {}

  /** Sends `listener` the current services, then every change until `leave`. */
  async join(listener: FeedListener): Promise<void> {
    this.listeners.add(listener);
    if (!this.watcher) this.startWatch();
    const sent = this.sent;
    try {
      const services = await snapshot(this.registry);
      // A broadcast that reached the listener meanwhile was at least as fresh: do not undo it.
      if (this.sent === sent && this.listeners.has(listener)) listener("services", services);
    } catch (err) {
      listener("failure", MicroError.from(err, ERROR_ID).toJSON());
    }
  }

  leave(listener: FeedListener): void {
    this.listeners.delete(listener);
    if (this.listeners.size > 0) return;
    clearTimeout(this.pending);
    clearTimeout(this.retry);
    this.pending = undefined;
    this.retry = undefined;
    this.watcher?.stop();
    this.watcher = undefined;
  }

  /** Follows `watcher`; when it fails or ends while browsers listen, watches again after a pause. */
  private follow(watcher: Watcher): void {
    this.watcher = watcher;
    void (async () => {
      try {
        for await (const _event of watcher) this.pending ??= setTimeout(() => void this.broadcast(), SNAPSHOT_DELAY_MS);
      } catch (err) {
        this.send("failure", this.watchFailure(err));
      }
      if (this.watcher !== watcher) return; // stopped by leave()
      this.watcher = undefined;
      this.retry ??= setTimeout(() => this.rewatch(), REWATCH_MS);
    })();
  }

  private rewatch(): void {
    this.retry = undefined;
    if (this.listeners.size === 0 || this.watcher) return;
    this.startWatch();
    void this.broadcast();
  }

  private watchFailure(err: unknown): MicroErrorJSON {
    return MicroError.unavailable(ERROR_ID, `the registry (${this.registry.name}) cannot be watched: ${(err as Error).message}`).toJSON();
  }

  private startWatch(): void {
    try {
      this.follow(this.registry.watch());
    } catch (err) {
      this.send("failure", this.watchFailure(err));
      this.retry ??= setTimeout(() => this.rewatch(), REWATCH_MS);
    }
  }

  private async broadcast(): Promise<void> {
    this.pending = undefined;
    try {
      this.send("services", await snapshot(this.registry));
    } catch (err) {
      this.send("failure", MicroError.from(err, ERROR_ID).toJSON());
    }
  }

  private send(event: "services" | "failure", data: unknown): void {
    this.sent++;
    for (const listener of this.listeners) listener(event, data);
  }
}

/** Every service at every version with its nodes, sorted by name then version. */
async function snapshot(registry: Registry): Promise<ServiceRecord[]> {
  try {
    const names = [...new Set((await registry.listServices()).map((s) => s.name))].sort();
    const records = await Promise.all(names.map((name) => registry.getService(name)));
    return records.flat().sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  } catch (err) {
    throw MicroError.unavailable(ERROR_ID, `the registry (${registry.name}) cannot be read: ${(err as Error).message}`);
  }
}

function target(body: Record<string, unknown>): { service: string; endpoint: string } {
  const service = required(typeof body.service === "string" ? body.service : null, "service");
  const endpoint = required(typeof body.endpoint === "string" ? body.endpoint : null, "endpoint");
  return { service, endpoint };
}

function required(value: string | null, name: string): string {
  if (!value) throw MicroError.badRequest(ERROR_ID, `${name} is required`);
  return value;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw MicroError.badRequest(ERROR_ID, `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** The body as text, at most `limit` bytes (413 beyond, once the rest is drained: transport/http/body.ts). */
async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  try {
    return (await readLimitedBody(req, limit)).toString("utf8");
  } catch (err) {
    throw err instanceof BodyTooLargeError ? MicroError.tooLarge(ERROR_ID, `the body is larger than ${limit} bytes`) : err;
  }
}

/** Aborts when the browser goes away before the answer is written. */
function abortOnDisconnect(req: IncomingMessage, res: ServerResponse): AbortController {
  const controller = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) controller.abort(new Error("the browser went away"));
  });
  req.once("aborted", () => controller.abort(new Error("the browser went away")));
  return controller;
}

interface EventStream {
  readonly signal: AbortSignal;
  send(event: string, data: unknown): void;
  end(): void;
}

/** Server-Sent Events on `res`; `signal` fires when the browser disconnects. */
function openEventStream(req: IncomingMessage, res: ServerResponse): EventStream {
  const controller = new AbortController();
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  res.write(": open\n\n");
  const heartbeat = setInterval(() => res.write(": ping\n\n"), HEARTBEAT_MS);
  const close = (): void => {
    clearInterval(heartbeat);
    controller.abort(new Error("the browser went away"));
  };
  res.once("close", close);
  req.once("aborted", close);
  return {
    signal: controller.signal,
    send(event, data) {
      if (res.writableEnded || res.destroyed) return;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    end() {
      clearInterval(heartbeat);
      if (!res.writableEnded) res.end();
    },
  };
}

function brokerMessage(event: BrokerEvent): Record<string, unknown> {
  const { header, body } = event.message;
  return {
    topic: event.topic,
    id: headerValue(header, MicroHeader.Id) ?? null,
    received: new Date().toISOString(),
    header,
    payload: displayableBody(body, headerValue(header, MicroHeader.ContentType)),
  };
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent) return;
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** A MicroError as Go Micro's error JSON, with the HTTP status of its code (a timeout is a 504). */
function sendError(res: ServerResponse, error: MicroError): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  sendJson(res, httpStatus(error.code), error.toJSON());
}

export function httpStatus(code: number): number {
  if (code === 408) return 504;
  return code >= 400 && code <= 599 ? code : 500;
}

interface Asset {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
  etag: string;
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
  ".map": "application/json",
  ".woff2": "font/woff2",
};

/**
 * The built UI, read once per file. Vite names assets by content hash, so they are cached for a
 * year; index.html is revalidated on every load so a new build shows at once.
 */
class Assets {
  private readonly cache = new Map<string, Asset | null>();

  constructor(private readonly dir: string) {}

  serve(req: IncomingMessage, res: ServerResponse, pathname: string): void {
    if (req.method !== "GET" && req.method !== "HEAD") throw MicroError.methodNotAllowed(ERROR_ID, `${req.method} is not allowed on ${pathname}`);
    const asset = this.load(pathname === "/" ? "/index.html" : pathname);
    if (asset === null) throw MicroError.notFound(ERROR_ID, `no such page ${pathname}`);
    const headers: Record<string, string | number> = {
      "content-type": asset.type,
      etag: asset.etag,
      "cache-control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
      vary: "accept-encoding",
      "x-content-type-options": "nosniff",
    };
    if (req.headers["if-none-match"] === asset.etag) {
      res.writeHead(304, headers).end();
      return;
    }
    const gzip = asset.gzip && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    const body = gzip ? asset.gzip! : asset.body;
    if (gzip) headers["content-encoding"] = "gzip";
    headers["content-length"] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === "HEAD" ? undefined : body);
  }

  private load(pathname: string): Asset | null {
    const cached = this.cache.get(pathname);
    if (cached !== undefined) return cached;
    const asset = this.read(pathname);
    this.cache.set(pathname, asset);
    return asset;
  }

  private read(pathname: string): Asset | null {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return null;
    }
    const file = path.resolve(this.dir, `.${path.posix.normalize(decoded)}`);
    if (!file.startsWith(this.dir + path.sep)) return null;
    if (pathname === "/index.html" && !fs.existsSync(file)) {
      throw MicroError.unavailable(ERROR_ID, `the dashboard UI is not built (no ${file}): run \`npm run build:web\``);
    }
    let body: Buffer;
    try {
      body = fs.readFileSync(file);
    } catch {
      return null;
    }
    const type = TYPES[path.extname(file)] ?? "application/octet-stream";
    const compressible = type.startsWith("text/") || type.includes("json") || type.includes("svg");
    return {
      body,
      gzip: compressible && body.length > 1024 ? gzipSync(body) : undefined,
      type,
      etag: `"${createHash("sha1").update(body).digest("base64url")}"`,
      immutable: pathname.startsWith("/assets/"),
    };
  }
}
