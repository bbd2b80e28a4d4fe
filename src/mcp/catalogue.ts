/**
 * The tool catalogue: one tool per endpoint of every registered service, kept current by a
 * registry watch. Unlike Go Micro's, a service that goes away takes its tools with it, and a
 * listener hears of every change (the gateway turns it into `notifications/tools/list_changed`).
 *
 * Each watch event schedules one rebuild from the registry (events that arrive together share
 * it), and a rebuild also runs every `refreshInterval` in case the watch missed something.
 */
import { HTTP_BROKER_SERVICE } from "../broker/http.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import type { Endpoint, Registry, ServiceRecord, Watcher } from "../registry/registry.js";
import type { Tool, ToolNaming, ToolOptions } from "./mcp.js";
import { inputSchema } from "./schema.js";

/** Plumbing that registers as a service but serves no tools. */
const INTERNAL_SERVICES = new Set([HTTP_BROKER_SERVICE, "go.micro.http.broker"]);

export interface CatalogueOptions {
  registry: Registry;
  naming?: ToolNaming;
  /** Only these services' endpoints (default: every service). */
  services?: readonly string[];
  /** Per-tool options by tool name; `scopes` there replace the endpoint's. */
  tools?: Record<string, ToolOptions>;
  /** Milliseconds between full rebuilds besides the watch (default 30 s). */
  refreshInterval?: number;
  logger?: Logger;
}

export class Catalogue {
  private tools = new Map<string, Tool>();
  private fingerprint = "";
  private watcher: Watcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private rebuilding: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly listeners = new Set<() => void>();
  private readonly log: Logger;

  constructor(private readonly options: CatalogueOptions) {
    this.log = options.logger ?? defaultLogger();
  }

  /** Reads the registry once and starts watching it. */
  async start(): Promise<void> {
    this.watch();
    await this.rebuild();
    this.timer = setInterval(() => void this.rebuild(), this.options.refreshInterval ?? 30_000);
    this.timer.unref();
  }

  /** The tools, sorted by name. */
  list(): Tool[] {
    return [...this.tools.values()];
  }

  get(name: string): Tool | undefined {
    return this.tools.get(name);
  }

  /** Calls `listener` after every change of the tool set; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    this.watcher?.stop();
    if (this.timer) clearInterval(this.timer);
    this.listeners.clear();
  }

  /** Rebuilds on every event; a watch that ends is restarted after a pause. */
  private watch(): void {
    if (this.closed) return;
    const watcher = this.options.registry.watch();
    this.watcher = watcher;
    void (async () => {
      try {
        for await (const _ of watcher) void this.rebuild();
      } catch (err) {
        this.log.warn("mcp: registry watch failed; restarting it", { err: (err as Error).message });
      }
      if (!this.closed) setTimeout(() => this.watch(), 1_000).unref();
    })();
  }

  /** One rebuild at a time; a request during one runs another after it, for the latest state. */
  rebuild(): Promise<void> {
    if (this.rebuilding) {
      this.again = true;
      return this.rebuilding;
    }
    this.rebuilding = this.read()
      .catch((err: unknown) => this.log.warn("mcp: could not read the registry; keeping the last tool list", { err: (err as Error).message }))
      .finally(() => {
        this.rebuilding = undefined;
        if (this.again && !this.closed) {
          this.again = false;
          void this.rebuild();
        }
      });
    return this.rebuilding;
  }

  private async read(): Promise<void> {
    const { registry, services: only } = this.options;
    const names = new Set((await registry.listServices()).map((s) => s.name));
    const wanted = [...names].filter((name) => !INTERNAL_SERVICES.has(name) && (!only || only.includes(name))).sort();
    const records = (await Promise.all(wanted.map((name) => registry.getService(name)))).flat();
    if (this.closed) return;
    const tools = buildTools(records, this.options.naming ?? "dotted", this.options.tools ?? {}, this.log);
    const fingerprint = JSON.stringify([...tools.values()]);
    if (fingerprint === this.fingerprint) return;
    this.tools = tools;
    this.fingerprint = fingerprint;
    for (const listener of this.listeners) listener();
  }
}

/** Tools from registry records: services with at least one node, endpoints that are not subscribers. */
export function buildTools(records: readonly ServiceRecord[], naming: ToolNaming, options: Record<string, ToolOptions>, log?: Logger): Map<string, Tool> {
  const tools = new Map<string, Tool>();
  for (const record of records) {
    if (record.nodes.length === 0) continue;
    for (const endpoint of record.endpoints ?? []) {
      if (endpoint.metadata?.subscriber === "true") continue;
      const name = toolName(record.name, endpoint.name, naming);
      const existing = tools.get(name);
      // Versions of a service share tools; two endpoints mapped to one name keep the first.
      if (existing) {
        if (existing.service !== record.name || existing.endpoint !== endpoint.name)
          log?.warn("mcp: two endpoints map to one tool name; keeping the first", { tool: name, endpoint: `${record.name} ${endpoint.name}` });
        continue;
      }
      tools.set(name, toTool(name, record.name, endpoint, options[name]?.scopes));
    }
  }
  return new Map([...tools.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function toTool(name: string, service: string, endpoint: Endpoint, scopes: string[] | undefined): Tool {
  const metadata = endpoint.metadata ?? {};
  const stream = metadata.stream === "true";
  let description = metadata.description?.trim() || `Call ${endpoint.name} on the ${service} service`;
  if (metadata.example) description += `\n\nExample input: ${metadata.example}`;
  if (stream) description += "\n\nA stream endpoint: the result is the list of its responses.";
  return {
    name,
    service,
    endpoint: endpoint.name,
    description,
    inputSchema: inputSchema(endpoint.request, metadata.example),
    scopes: scopes ?? splitScopes(metadata.scopes),
    stream,
  };
}

function splitScopes(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `greeter` + `Greeter.Hello` → `greeter.Greeter.Hello` (dotted) or `greeter_Greeter_Hello` (underscore). */
export function toolName(service: string, endpoint: string, naming: ToolNaming): string {
  const full = `${service}.${endpoint}`;
  return naming === "underscore" ? full.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64) : full.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 128);
}
