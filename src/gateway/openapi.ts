/**
 * `/openapi.json`: an OpenAPI 3.1 document of every endpoint in the registry, built from the
 * endpoints' request/response descriptions (Go Micro's `registry.Value` trees) and metadata
 * (`description`, `example`, `stream`). A registry watch marks it stale on any change, and the
 * next request rebuilds it, so it follows services as they come and go without polling.
 */
import type { Logger } from "../logger/logger.js";
import type { Endpoint, Registry, ServiceRecord, Value } from "../registry/registry.js";

type Schema = Record<string, unknown>;

const ERROR_SCHEMA: Schema = {
  type: "object",
  description: "Go Micro's error JSON",
  properties: { id: { type: "string" }, code: { type: "integer" }, detail: { type: "string" }, status: { type: "string" } },
};

/** Services that are plumbing: the HTTP broker's subscriber records. */
const INTERNAL_SERVICES = new Set(["micro.http.broker", "go.micro.http.broker"]);

export class OpenApiDocument {
  private cached: string | undefined;
  /** Bumped on every registry change: a document built across a change is not kept. */
  private version = 0;
  private building: Promise<string> | undefined;
  private watching = false;
  private stopped = false;
  private stopWatch: (() => void) | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly info: { title: string; version: string; server?: string },
    private readonly log: Logger,
  ) {}

  /** Starts following the registry; restarts the watch (with backoff) when it ends. */
  watch(): void {
    void this.follow();
  }

  stop(): void {
    this.stopped = true;
    this.stopWatch?.();
  }

  /** The document as JSON text; rebuilt when the registry changed since the last one. */
  text(): Promise<string> {
    if (this.cached !== undefined && this.watching) return Promise.resolve(this.cached);
    this.building ??= this.build().finally(() => {
      this.building = undefined;
    });
    return this.building;
  }

  private async build(): Promise<string> {
    const version = this.version;
    const services = await this.services();
    const text = JSON.stringify(openApiFor(services, this.info));
    if (version === this.version) this.cached = text;
    return text;
  }

  /** Every service with its endpoints (a listing may leave endpoints out: then each is fetched). */
  private async services(): Promise<ServiceRecord[]> {
    const listed = await this.registry.listServices();
    const names = [...new Set(listed.map((s) => s.name))].filter((name) => !INTERNAL_SERVICES.has(name)).sort();
    const records = await Promise.all(
      names.map(async (name) => {
        const inList = listed.filter((s) => s.name === name);
        return inList.some((s) => s.endpoints?.length) ? inList : this.registry.getService(name);
      }),
    );
    return records.flat();
  }

  private changed(): void {
    this.version++;
    this.cached = undefined;
  }

  private async follow(): Promise<void> {
    let delay = 250;
    while (!this.stopped) {
      const watcher = this.registry.watch();
      this.stopWatch = () => watcher.stop();
      try {
        this.watching = true;
        this.changed(); // changes made while no watch ran
        for await (const _event of watcher) {
          this.changed();
          delay = 250;
        }
      } catch (err) {
        if (!this.stopped) this.log.debug("gateway: registry watch for the OpenAPI document ended", { error: (err as Error).message });
      } finally {
        this.watching = false;
        watcher.stop();
      }
      if (this.stopped) return;
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      delay = Math.min(delay * 2, 10_000);
    }
  }
}

/** The OpenAPI 3.1 document for `services`. */
export function openApiFor(services: readonly ServiceRecord[], info: { title: string; version: string; server?: string }): Schema {
  const paths: Record<string, Schema> = {};
  for (const service of services) {
    for (const endpoint of service.endpoints ?? []) {
      if (endpoint.metadata?.subscriber === "true") continue;
      const dot = endpoint.name.indexOf(".");
      if (dot <= 0) continue;
      const path = `/api/${service.name}/${endpoint.name.slice(0, dot)}/${endpoint.name.slice(dot + 1)}`;
      paths[path] ??= { post: operation(service, endpoint) };
    }
  }
  return {
    openapi: "3.1.0",
    info: { title: info.title, version: info.version, description: "Every endpoint of every service in the registry, called through the ts-micro gateway." },
    ...(info.server ? { servers: [{ url: info.server }] } : {}),
    paths,
    components: { schemas: { MicroError: ERROR_SCHEMA } },
  };
}

function operation(service: ServiceRecord, endpoint: Endpoint): Schema {
  const metadata = endpoint.metadata ?? {};
  const stream = metadata.stream === "true";
  const request = valueSchema(endpoint.request);
  const example = exampleOf(metadata.example);
  const response = valueSchema(endpoint.response);
  const success = stream
    ? {
        description:
          "A stream: one message per Server-Sent Event (Accept: text/event-stream) or per line (NDJSON). Client and bidirectional streams take a WebSocket.",
        content: { "text/event-stream": { schema: { type: "string" } }, "application/x-ndjson": { schema: response } },
      }
    : { description: "The endpoint's response", content: { "application/json": { schema: response } } };
  const error = { description: "Go Micro's error JSON", content: { "application/json": { schema: { $ref: "#/components/schemas/MicroError" } } } };
  return {
    operationId: `${service.name}.${endpoint.name}`,
    tags: [service.name],
    summary: metadata.description ?? `${service.name} ${endpoint.name}`,
    requestBody: { required: false, content: { "application/json": { schema: request, ...(example !== undefined ? { example } : {}) } } },
    responses: { "200": success, default: error },
  };
}

function exampleOf(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const INTEGER = /^u?int(8|16|32|64)?$/;

/** A JSON Schema for a registry Value (Go type names, as Go Micro publishes them). */
export function valueSchema(value: Value | null | undefined, depth = 0): Schema {
  if (!value) return { type: "object" };
  const type = value.type;
  if (type.startsWith("[]")) {
    if (type === "[]byte" || type === "[]uint8") return { type: "string", contentEncoding: "base64" };
    const item = value.values?.length ? { ...value, type: type.slice(2) } : { name: value.name, type: type.slice(2), values: null };
    return { type: "array", items: valueSchema(item, depth + 1) };
  }
  if (type.startsWith("map[")) return { type: "object", additionalProperties: true };
  if (type === "string") return { type: "string" };
  if (type === "bool" || type === "boolean") return { type: "boolean" };
  if (INTEGER.test(type) || type === "integer") return { type: "integer" };
  if (type === "float32" || type === "float64" || type === "number") return { type: "number" };
  if (!value.values?.length || depth > 8) return { type: "object" };
  const properties: Record<string, Schema> = {};
  for (const field of value.values) properties[field.name] = valueSchema(field, depth + 1);
  return { type: "object", title: type.replace(/^\*/, ""), properties };
}
