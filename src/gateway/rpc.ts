/**
 * `/api/{service}/{Handler}/{Method}` and `/api/{service}/{Handler.Method}`: an HTTP request as an
 * RPC. The endpoint is looked up in the client's registry cache (no registry round trip once a
 * service is known), which also says whether it streams. A request answers with the response's
 * JSON; a server stream answers as Server-Sent Events (Accept: text/event-stream) or NDJSON.
 * When the HTTP client goes away, the call or stream is cancelled, and the handler's ctx.signal
 * fires on the server.
 */
import { setMaxListeners } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Resource } from "../auth/auth.js";
import type { CallOptions, Client } from "../client/client.js";
import type { Codec } from "../codec/codec.js";
import { ContentType } from "../codec/index.js";
import { LocalError } from "../errors/errors.js";
import type { Endpoint, ServiceRecord } from "../registry/registry.js";
import { type Authorizer, UNDECIDED } from "../server/authorize.js";
import type { GatewayObserver } from "./observed.js";
import { type HeaderAllowList, jsonBody, queryRequest, readBody, timeoutOf } from "./request.js";
import { asMicroError, gatewayError, sendError, sendJson } from "./respond.js";

/** Where the gateway finds services: a registry cache, synchronous once a service is known. */
export interface EndpointLookup {
  getService(name: string): Promise<ServiceRecord[]>;
  getCached?(name: string): readonly ServiceRecord[] | undefined;
}

/** What serving a call needs; one per gateway. */
export interface RpcContext {
  client: Client;
  lookup: EndpointLookup;
  /** The client passes JSON through as bytes (the gateway's own client); else requests are parsed objects. */
  raw: boolean;
  headers: HeaderAllowList;
  /** Default deadline of a call, ms. */
  timeout: number;
  bodyLimit: number;
  authorizer: Authorizer | undefined;
  /** Streams being answered: a closing gateway ends them rather than waiting for them. */
  streams: Set<ServerResponse>;
  /** Spans and metrics of the requests, when tracing or metrics are on. */
  observer?: GatewayObserver;
}

export interface Route {
  service: string;
  endpoint: string;
}

/**
 * application/json as bytes, both ways: the request body (already checked to be JSON) is sent as
 * received, the response is handed back undecoded, so the gateway never builds objects a call
 * only passes through. Anything that is not bytes is written as JSON.
 */
export const passThroughJson: Codec = {
  contentType: ContentType.json,
  encode(value: unknown): Uint8Array {
    return value instanceof Uint8Array ? value : Buffer.from(JSON.stringify(value ?? null));
  },
  decode(bytes: Uint8Array): unknown {
    return bytes;
  },
};

/** The service and endpoint named by the path after `/api/`; a 404 when it names none. */
export function parseRoute(rest: string): Route {
  const parts = rest.split("/");
  if (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  const decoded = rest.includes("%") ? decodeParts(parts, rest) : parts;
  if (decoded.length === 3 && decoded[0] && decoded[1] && decoded[2]) return { service: decoded[0], endpoint: `${decoded[1]}.${decoded[2]}` };
  if (decoded.length === 2 && decoded[0] && isHandlerMethod(decoded[1])) return { service: decoded[0], endpoint: decoded[1] };
  throw gatewayError(404, `not found: /api/${rest} (use /api/{service}/{Handler}/{Method} or /api/{service}/{Handler.Method})`);
}

function decodeParts(parts: string[], rest: string): string[] {
  try {
    return parts.map(decodeURIComponent);
  } catch {
    throw gatewayError(400, `malformed path /api/${rest}`);
  }
}

/** `Handler.Method`: one dot, with a name either side. */
function isHandlerMethod(name: string): boolean {
  const dot = name.indexOf(".");
  return dot > 0 && dot < name.length - 1 && name.indexOf(".", dot + 1) === -1;
}

/**
 * The registry's description of `route`'s endpoint; undefined when the service publishes no
 * endpoints (then the service itself answers for it). 404 for an unknown service or endpoint.
 */
export function describe(lookup: EndpointLookup, route: Route): Endpoint | undefined | Promise<Endpoint | undefined> {
  const cached = lookup.getCached?.(route.service);
  if (cached) return endpointIn(cached, route);
  return lookup.getService(route.service).then(
    (records) => endpointIn(records, route),
    (err: unknown) => {
      throw gatewayError(503, `registry: looking up ${route.service} failed: ${(err as Error).message}`);
    },
  );
}

function endpointIn(records: readonly ServiceRecord[], route: Route): Endpoint | undefined {
  if (records.length === 0) throw new LocalError(404, `service ${route.service}: not found`);
  let published = false;
  for (const record of records) {
    for (const endpoint of record.endpoints ?? []) {
      published = true;
      if (endpoint.name === route.endpoint) return endpoint;
    }
  }
  if (published) throw gatewayError(404, `service ${route.service} has no endpoint ${route.endpoint}`);
  return undefined;
}

/**
 * `/api/{service}/{Handler.Method}` for a path naming an endpoint the registry cache knows (or
 * `/api/{service}/{endpoint}` for a known service that publishes none); undefined for any other
 * path, which a client may make up at will (a series for each would grow without bound).
 */
export function knownRoute(lookup: EndpointLookup, rest: string): string | undefined {
  try {
    const route = parseRoute(rest);
    const cached = lookup.getCached?.(route.service);
    if (!cached || cached.length === 0) return undefined;
    return endpointIn(cached, route) ? `/api/${route.service}/${route.endpoint}` : `/api/${route.service}/{endpoint}`;
  } catch {
    return undefined;
  }
}

/** The call metadata for `req`: its allowed headers, and the request's span as the calls' parent when tracing. */
export function callMetadata(context: RpcContext, req: IncomingMessage): Record<string, string> | undefined {
  const metadata = context.headers.metadata(req);
  return context.observer ? context.observer.metadata(req, metadata) : metadata;
}

export function isStream(endpoint: Endpoint | undefined): boolean {
  return endpoint?.metadata?.stream === "true";
}

/** Lets the call through auth (when configured), else throws 401/403. */
export function authorize(context: RpcContext, resource: Resource, req: IncomingMessage): void | Promise<void> {
  const authorizer = context.authorizer;
  if (!authorizer) return;
  const header = req.headers.authorization;
  if (authorizer.quick(resource, header) !== UNDECIDED) return;
  return authorizer.check(resource, header).then(() => {});
}

/** Serves one `/api/…` request (not a WebSocket). */
export async function serveRpc(context: RpcContext, req: IncomingMessage, res: ServerResponse, rest: string, query: string): Promise<void> {
  try {
    if (req.method !== "POST" && req.method !== "GET") throw gatewayError(405, `use POST (or GET with query parameters), not ${req.method}`);
    const route = parseRoute(rest);
    // Both are synchronous in the common case (no auth or a known token; a cached service): no await then.
    if (context.authorizer) {
      const authorized = authorize(context, { type: "service", name: route.service, endpoint: route.endpoint }, req);
      if (authorized) await authorized;
    }
    const found = describe(context.lookup, route);
    const described = found instanceof Promise ? await found : found;
    const body = req.method === "GET" ? queryRequest(query) : jsonBody(await readBody(req, context.bodyLimit));
    const request = context.raw ? body : JSON.parse(body.toString("utf8"));
    const metadata = callMetadata(context, req);
    if (isStream(described)) {
      const timeout = timeoutOf(req, undefined);
      context.streams.add(res);
      try {
        const signal = cancelOnClose(res);
        await serveStream(context.client.stream(route.service, route.endpoint, request, { signal, metadata, timeout }), req, res);
      } finally {
        context.streams.delete(res);
      }
      return;
    }
    const options: CallOptions = { signal: cancelOnDisconnect(req), metadata, timeout: timeoutOf(req, context.timeout) };
    const response = await context.client.call(route.service, route.endpoint, request, options);
    sendJson(res, 200, jsonOf(response));
  } catch (err) {
    if (!res.destroyed) sendError(res, err);
  }
}

/** Each connection's signal (see cancelOnDisconnect). */
const disconnected = new WeakMap<Socket, AbortSignal>();

/**
 * An AbortSignal that fires when the connection of `req` closes: its HTTP client went away, and
 * the calls made for its requests that are still running are abandoned. One per connection, not
 * per request: a keep-alive connection carries thousands of calls, one after another, and an
 * AbortController (an EventTarget) and a close listener per request cost the gateway about a
 * fifth of its CPU per call (bench/gateway.ts, median of 6 interleaved runs: 88 → 68 µs).
 * Every transport's call removes its listener when it settles, so only calls in flight are cancelled.
 */
export function cancelOnDisconnect(req: IncomingMessage): AbortSignal {
  const socket = req.socket;
  let signal = disconnected.get(socket);
  if (!signal) {
    const controller = new AbortController();
    signal = controller.signal;
    // Pipelined requests are served at once: one listener each, more than the default 10.
    setMaxListeners(0, signal);
    socket.once("close", () => controller.abort(new LocalError(499, "the HTTP client went away")));
    disconnected.set(socket, signal);
  }
  return signal;
}

/** An AbortSignal that fires when the HTTP client goes away before the response was sent. */
export function cancelOnClose(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) controller.abort(new LocalError(499, "the HTTP client went away"));
  });
  return controller.signal;
}

/** A response as JSON bytes: passed-through bytes as they are, anything else written as JSON. */
export function jsonOf(response: unknown): string | Uint8Array {
  if (response instanceof Uint8Array) return response;
  return response === undefined ? "{}" : JSON.stringify(response);
}

/**
 * A server stream as SSE or NDJSON. The status is sent once the first message (or the error)
 * is in, so a stream refused at once (400, 404, 401 …) gets its real status.
 */
async function serveStream(stream: AsyncGenerator<unknown>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const sse = (req.headers.accept ?? "").includes("text/event-stream");
  try {
    let next = await stream.next();
    res.writeHead(200, {
      "Content-Type": sse ? "text/event-stream" : "application/x-ndjson",
      "Cache-Control": "no-cache",
      "X-Accel-Buffering": "no",
    });
    res.flushHeaders();
    try {
      for (; !next.done; next = await stream.next()) {
        const text = jsonOf(next.value);
        if (!(await write(res, sse ? `data: ${text}\n\n` : `${text}\n`))) return;
      }
      res.end(sse ? "event: end\ndata: {}\n\n" : "");
    } catch (err) {
      if (res.destroyed) return;
      const error = asMicroError(err).toString();
      res.end(sse ? `event: error\ndata: ${error}\n\n` : `{"error":${error}}\n`);
    }
  } finally {
    await stream.return(undefined).catch(() => {});
  }
}

/** Writes `chunk`, waiting while the client reads slowly; false when the client went away. */
function write(res: ServerResponse, chunk: string): Promise<boolean> | boolean {
  if (res.destroyed) return false;
  if (res.write(chunk)) return true;
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done).off("close", done);
      resolve(!res.destroyed);
    };
    res.on("drain", done).on("close", done);
  });
}
