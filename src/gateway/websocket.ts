/**
 * Client and bidirectional streams over WebSocket, at the same `/api/…` paths. Each text (or
 * binary) message the browser sends is one JSON request; an empty message ends the sending side
 * (as a client stream's caller returns), after which the responses still arrive. Each response is
 * one text message; the end of the stream closes the socket with 1000, an error sends
 * `{"error": <Go Micro error JSON>}` and closes with 1011 (1007 for a message that is not JSON).
 * Closing the socket cancels the stream on the server. A browser, which cannot set headers on a
 * WebSocket, may send its token as the subprotocols `["bearer", token]`.
 *
 * A server stream can be opened over a WebSocket too: its request is the query string
 * (`ws://…/api/greeter/Greeter/Count?to=3`, read as a GET's), and nothing is sent after it.
 *
 * `ws` is imported on the first upgrade (loadDriver: a clear error naming the package when it is
 * missing), so a gateway that never sees a WebSocket does not need it.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { RawData, WebSocket, WebSocketServer } from "ws";
import { loadDriver } from "../driver/driver.js";
import { Lazy } from "../driver/lazy.js";
import { LocalError, type MicroError, statusText } from "../errors/errors.js";
import { NO_TRACE, type TraceHeaders } from "../metadata/headers.js";
import { queryRequest, timeoutOf } from "./request.js";
import { asMicroError, gatewayError, httpStatusOf } from "./respond.js";
import { authorize, callMetadata, describe, jsonOf, parseRoute, type Route, type RpcContext } from "./rpc.js";

interface WsModule {
  WebSocketServer: typeof WebSocketServer;
}

/**
 * Browsers cannot set headers on a WebSocket, so a token may come as the subprotocols
 * `new WebSocket(url, ["bearer", token])`, as Kubernetes' API server takes one.
 */
const BEARER_PROTOCOL = "bearer";

/** Without an Authorization header, the token offered as subprotocols becomes one (checked and forwarded as such). */
function tokenFromProtocols(req: IncomingMessage): void {
  const offered = req.headers["sec-websocket-protocol"];
  if (req.headers.authorization !== undefined || !offered) return;
  const protocols = offered.split(",").map((p) => p.trim());
  const at = protocols.indexOf(BEARER_PROTOCOL);
  if (at !== -1 && protocols[at + 1]) req.headers.authorization = `Bearer ${protocols[at + 1]}`;
}

/** Requests buffered from a socket before it is paused until the service reads them. */
const HIGH_WATER = 64;

export class WebSocketStreams {
  private readonly server: Lazy<WebSocketServer>;

  constructor(private readonly context: RpcContext) {
    this.server = new Lazy(async () => {
      const ws = await loadDriver<WsModule>("ws", "gateway's WebSocket streams");
      return new ws.WebSocketServer({
        noServer: true,
        maxPayload: context.bodyLimit,
        perMessageDeflate: false,
        // A browser's token comes as the subprotocols ["bearer", token]: "bearer" is the one agreed.
        handleProtocols: (protocols) => (protocols.has(BEARER_PROTOCOL) ? BEARER_PROTOCOL : (protocols.values().next().value ?? false)),
      });
    });
  }

  /**
   * Takes an upgrade request for `/api/<rest>`: checks it, then runs the stream over the socket.
   * `trace`: the trace headers of a span the stream belongs to, when the context's observer does
   * not know the request (a mount's sockets).
   */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, rest: string, trace: TraceHeaders = NO_TRACE): Promise<void> {
    let server: WebSocketServer;
    let timeout: number | undefined;
    const route = (() => {
      try {
        return parseRoute(rest);
      } catch (err) {
        return err as MicroError;
      }
    })();
    try {
      if (route instanceof Error) throw route;
      tokenFromProtocols(req);
      await authorize(this.context, { type: "service", name: route.service, endpoint: route.endpoint }, req);
      await describe(this.context.lookup, route);
      timeout = timeoutOf(req, undefined);
      server = await this.server.get();
    } catch (err) {
      refuse(socket, asMicroError(err));
      return;
    }
    const q = req.url?.indexOf("?") ?? -1;
    const request = q === -1 ? undefined : queryRequest(req.url!.slice(q + 1));
    server.handleUpgrade(req, socket, head, (ws) => void this.run(ws, req, route, timeout, request, trace));
  }

  /** Ends every open WebSocket stream (1001, going away) and takes no more. */
  close(): void {
    const server = this.server.peek();
    if (!server) return;
    void server
      .then((s) => {
        for (const ws of s.clients) {
          ws.close(1001, "the gateway is stopping");
          // A client that never answers the close handshake is not waited for.
          setTimeout(() => ws.terminate(), 1_000).unref();
        }
        s.close();
      })
      .catch(() => {});
  }

  /** Runs the stream: requests from the socket (or the one from the query string), responses to it. */
  private async run(
    ws: WebSocket,
    req: IncomingMessage,
    route: Route,
    timeout: number | undefined,
    request: Buffer | undefined,
    trace: TraceHeaders,
  ): Promise<void> {
    const controller = new AbortController();
    const inbox = new Inbox(ws, this.context.raw, (err) => {
      fail(ws, err, 1007);
      controller.abort(err);
    });
    ws.once("close", () => {
      inbox.end();
      controller.abort(new LocalError(499, "the WebSocket client went away"));
    });
    ws.on("error", () => {});
    try {
      const input = request === undefined ? inbox : this.context.raw ? request : JSON.parse(request.toString("utf8"));
      const stream = this.context.client.stream(route.service, route.endpoint, input, {
        signal: controller.signal,
        metadata: withTrace(callMetadata(this.context, req), trace),
        timeout,
      });
      for await (const response of stream) {
        if (!(await send(ws, jsonOf(response)))) return;
      }
      if (ws.readyState === ws.OPEN) ws.close(1000, "end of stream");
    } catch (err) {
      fail(ws, asMicroError(err), 1011);
    }
  }
}

/** The requests a socket sends, as the AsyncIterable the client streams from. */
class Inbox implements AsyncIterable<unknown> {
  private readonly items: unknown[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private paused = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly raw: boolean,
    private readonly onMalformed: (err: MicroError) => void,
  ) {
    ws.on("message", (data: RawData) => this.receive(data));
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  private receive(data: RawData): void {
    if (this.ended) return;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (bytes.length === 0) return this.end();
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString("utf8"));
    } catch (err) {
      this.ended = true;
      this.onMalformed(gatewayError(400, `malformed JSON message: ${(err as Error).message}`));
      return;
    }
    this.items.push(this.raw ? bytes : parsed);
    if (this.items.length >= HIGH_WATER && !this.paused) {
      this.paused = true;
      this.ws.pause();
    }
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<unknown> {
    for (;;) {
      if (this.items.length > 0) {
        yield this.items.shift();
        if (this.paused && this.items.length < HIGH_WATER / 2) {
          this.paused = false;
          this.ws.resume();
        }
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}

/** Sends one message, resolving once it is handed to the socket; false when the socket is gone. */
function send(ws: WebSocket, data: string | Uint8Array): Promise<boolean> {
  if (ws.readyState !== ws.OPEN) return Promise.resolve(false);
  return new Promise((resolve) => ws.send(data, { binary: false }, (err) => resolve(!err)));
}

/** Sends the error, then closes with `code` (the reason cut to WebSocket's 123 bytes). */
function fail(ws: WebSocket, error: MicroError, code: number): void {
  if (ws.readyState !== ws.OPEN) return;
  ws.send(JSON.stringify({ error: error.toJSON() }));
  ws.close(
    code,
    Buffer.from(error.detail)
      .subarray(0, 123)
      .toString("utf8")
      .replace(/\uFFFD$/, ""),
  );
}

/** Answers an upgrade that will not be taken with a plain HTTP error response. */
function refuse(socket: Duplex, error: MicroError): void {
  const status = httpStatusOf(error.code);
  const body = error.toString();
  socket.end(
    `HTTP/1.1 ${status} ${statusText(status) || "Error"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** `metadata` with `trace`'s headers added (none: `metadata` as it is). */
function withTrace(metadata: Record<string, string> | undefined, trace: TraceHeaders): Record<string, string> | undefined {
  return Object.keys(trace).length === 0 ? metadata : { ...metadata, ...trace };
}
