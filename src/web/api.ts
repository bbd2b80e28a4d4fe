/**
 * The dashboard's data: JSON and Server-Sent Events from src/gateway/dashboard.ts, addressed
 * relative to the page so the UI works under any mount.
 */
import type { Endpoint, Node, ServiceRecord, Value } from "../registry/registry.js";

export type { Endpoint, Node, ServiceRecord, Value };

export interface MicroErrorJSON {
  id: string;
  code: number;
  detail: string;
  status: string;
}

export interface Info {
  registry: string;
  broker: string;
  events: string | null;
  /** Names of the framework's own services (the HTTP broker's subscribers). */
  internal: string[];
}

export interface Health {
  status: string;
  error?: MicroErrorJSON;
}

/** A broker message or a durable event as the server sends it. */
export interface Delivery {
  topic: string;
  id: string | null;
  received?: string;
  sequence?: number;
  timestamp?: string;
  payload: unknown;
}

/** A topic the events backend keeps (`GET events/topics`). */
export interface EventTopic {
  topic: string;
  events: number;
  lastSequence: number;
  lastTimestamp?: string;
}

export interface EventTopics {
  backend: string;
  /** The backend lives in the dashboard's process (memory): it holds only what was published through it. */
  local: boolean;
  /** null when the backend cannot list its topics. */
  topics: EventTopic[] | null;
}

const API = "dashboard/api/";

export type Result<T> = { ok: true; value: T } | { ok: false; error: MicroErrorJSON };

async function request<T>(path: string, init?: RequestInit): Promise<Result<T>> {
  let response: Response;
  try {
    response = await fetch(API + path, init);
  } catch (err) {
    return { ok: false, error: { id: "dashboard", code: 0, detail: `the dashboard is unreachable: ${(err as Error).message}`, status: "" } };
  }
  const body = (await response.json().catch(() => null)) as unknown;
  if (response.ok) return { ok: true, value: body as T };
  const error =
    body && typeof body === "object" && "detail" in body
      ? (body as MicroErrorJSON)
      : { id: "dashboard", code: response.status, detail: response.statusText, status: "" };
  return { ok: false, error };
}

const post = <T>(path: string, body: unknown): Promise<Result<T>> =>
  request<T>(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

export const api = {
  info: () => request<Info>("info"),
  health: (service: string, address: string) => request<Health>(`health?${new URLSearchParams({ service, address })}`),
  call: (service: string, endpoint: string, req: unknown) => post<{ response: unknown }>("call", { service, endpoint, request: req }),
  publish: (topic: string, message: unknown) => post<{ topic: string }>("publish", { topic, message }),
  publishEvent: (topic: string, payload: unknown) => post<{ topic: string }>("events/publish", { topic, payload }),
  eventTopics: () => request<EventTopics>("events/topics"),
};

export interface Listeners {
  [event: string]: (data: unknown) => void;
}

/**
 * Opens an event stream. `end` and `failure` events close it for good (EventSource would
 * otherwise reconnect and start again); connection loss is reported as a `failure`.
 */
export function listen(path: string, on: Listeners, reconnect = false): () => void {
  const source = new EventSource(API + path);
  for (const [event, handler] of Object.entries(on)) {
    source.addEventListener(event, (e) => {
      handler(JSON.parse((e as MessageEvent<string>).data));
      if (!reconnect && (event === "end" || event === "failure")) source.close();
    });
  }
  source.addEventListener("error", () => {
    if (reconnect) {
      on.disconnected?.(null);
      return;
    }
    if (source.readyState !== EventSource.CLOSED) source.close();
    on.failure?.({ id: "dashboard", code: 0, detail: "the connection to the dashboard was lost", status: "" });
  });
  source.addEventListener("open", () => on.connected?.(null));
  return () => source.close();
}

/** `each`: `req` is a JSON array sent message by message (client and bidirectional streams). */
export const streamPath = (service: string, endpoint: string, req: string, each: boolean) =>
  `stream?${new URLSearchParams({ service, endpoint, request: req, ...(each ? { each: "true" } : {}) })}`;
export const subscribePath = (topic: string) => `subscribe?${new URLSearchParams({ topic })}`;
export const eventsPath = (topic: string, offset: number) => `events/subscribe?${new URLSearchParams({ topic, offset: String(offset) })}`;

export interface StreamSocket {
  /** Sends one request message. */
  send(message: unknown): void;
  /** Ends the sending side; the responses still arrive until the service ends the stream. */
  end(): void;
  /** Closes the socket, which cancels the stream on the service. */
  close(): void;
}

export interface SocketListeners {
  open(): void;
  message(message: unknown): void;
  end(): void;
  failure(error: MicroErrorJSON): void;
}

/**
 * Opens a client or bidirectional stream over a WebSocket, in the gateway's protocol: one JSON
 * text message per request and per response, an empty message ends the sending side, a close
 * with 1000 is the end of the stream, `{"error": …}` then another close code is its failure.
 */
export function openStreamSocket(service: string, endpoint: string, on: SocketListeners): StreamSocket {
  const url = new URL(`${API}socket/${encodeURIComponent(service)}/${encodeURIComponent(endpoint)}`, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.hash = "";
  const ws = new WebSocket(url);
  let failure: MicroErrorJSON | undefined;
  let closed = false;
  let opened = false;
  ws.addEventListener("open", () => {
    opened = true;
    on.open();
  });
  ws.addEventListener("message", (e: MessageEvent<string>) => {
    const value = JSON.parse(e.data) as unknown;
    // An error is known as one only by the close that follows it (a response may look alike).
    if (failure) on.message({ error: failure });
    failure = errorIn(value);
    if (!failure) on.message(value);
  });
  ws.addEventListener("close", (e) => {
    if (closed) return;
    closed = true;
    if (e.code === 1000) {
      if (failure) on.message({ error: failure });
      on.end();
      return;
    }
    const detail = opened
      ? `the stream closed (${e.code}${e.reason ? `: ${e.reason}` : ""})`
      : `the stream could not be opened: is ${endpoint} a stream of ${service}?`;
    on.failure(failure ?? { id: "dashboard", code: 0, detail, status: "" });
  });
  return {
    send: (message) => ws.send(JSON.stringify(message)),
    end: () => ws.send(""),
    close: () => {
      closed = true;
      ws.close(1000);
    },
  };
}

function errorIn(value: unknown): MicroErrorJSON | undefined {
  if (!value || typeof value !== "object" || Object.keys(value).length !== 1) return undefined;
  const error = (value as { error?: unknown }).error;
  return error && typeof error === "object" && "detail" in error ? (error as MicroErrorJSON) : undefined;
}
