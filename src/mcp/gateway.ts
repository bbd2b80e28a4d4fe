/**
 * `createMcpGateway(…)`: the tool catalogue, the access policy and the invoker behind the MCP
 * transports — stdio (`serveStdio`, what an MCP client launches), Streamable HTTP on a port of
 * its own (`listen`), or mounted on the HTTP gateway (`mount`, at `/mcp`).
 *
 *   const gateway = createMcpGateway();            // registry, client and auth from MICRO_* env
 *   await gateway.listen("127.0.0.1:3000");        // POST/GET/DELETE http://127.0.0.1:3000/mcp
 */
import http from "node:http";
import type { Readable, Writable } from "node:stream";
import type { Auth } from "../auth/auth.js";
import { ServiceIdentity } from "../auth/identity.js";
import type { Client } from "../client/client.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import type { Registry } from "../registry/registry.js";
import { createClient } from "../service/create-client.js";
import { resolveAuth, resolveRegistry } from "../service/resolve.js";
import { joinHostPort, splitHostPort } from "../transport/tcp.js";
import { AccessPolicy, ANONYMOUS, type Caller } from "./access.js";
import { Catalogue } from "./catalogue.js";
import { HttpHandler, type HttpOptions } from "./http.js";
import { Invoker, type ToolResult } from "./invoke.js";
import type { McpMount, Tool, ToolNaming, ToolOptions } from "./mcp.js";
import { loadSdk, type Sdk } from "./sdk.js";
import { createSession } from "./session.js";
import { LineTransport } from "./stdio.js";

export interface McpGatewayOptions {
  /** Where services are found (default: `MICRO_REGISTRY`, else the host-local registry). Closed on close() only if made here. */
  registry?: Registry;
  /**
   * The client calls go through (default: one on `registry` with the `MICRO_CLIENT_*` settings and
   * no token of its own). Closed on close() only if made here. A client with an identity sends its
   * own token on calls from callers that have none.
   */
  client?: Client;
  /** Who may see and call what (default: `MICRO_AUTH`, noop unless set). See docs/mcp.md. */
  auth?: Auth;
  /**
   * The caller on stdio, where there is no request header: an access token (default
   * `MICRO_AUTH_TOKEN`), or an account's credentials (default `MICRO_AUTH_ID`/`MICRO_AUTH_SECRET`),
   * exchanged for tokens that are renewed before they expire.
   */
  token?: string;
  credentials?: { id: string; secret: string };
  /** Tool names: `dotted` (Go Micro's, default) or `underscore`. */
  naming?: ToolNaming;
  /** Only these services' endpoints (default: all). */
  services?: string[];
  /** Defaults for every tool: timeout (ms, default 30 s), rateLimit (calls/s), burst. */
  defaults?: ToolOptions;
  /** Options by tool name: timeout, rateLimit, burst, scopes. */
  tools?: Record<string, ToolOptions>;
  /** Largest tool arguments, as JSON bytes (default 256 KiB). */
  maxArgumentBytes?: number;
  /** Responses of a stream endpoint collected at most (default 100). */
  maxStreamItems?: number;
  /** Longest stdio line (default 4 MiB). */
  maxMessageBytes?: number;
  /** Streamable HTTP limits and allowed origins. */
  http?: HttpOptions;
  /** The name in `initialize` (default `ts-micro`). */
  name?: string;
  logger?: Logger;
}

const VERSION = "0.1.0";

export class McpGateway {
  readonly catalogue: Catalogue;
  readonly access: AccessPolicy;
  /** The Streamable HTTP handler, in the shape `createGateway({ mounts })` takes (prefix `/mcp`). */
  readonly mount: McpMount & { close(): Promise<void>; readonly sessionCount: number };
  private readonly registry: Registry;
  private readonly client: Client;
  private readonly auth: Auth;
  private readonly invoker: Invoker;
  private readonly log: Logger;
  private readonly owned: { registry: boolean; client: boolean; auth: boolean };
  private identity: ServiceIdentity | undefined;
  private starting: Promise<Sdk> | undefined;
  /** The SDK, once start() loaded it. */
  private sdkNow: Sdk | undefined;
  private servers: http.Server[] = [];
  private readonly closers: Array<() => Promise<void>> = [];

  constructor(private readonly options: McpGatewayOptions = {}) {
    this.log = (options.logger ?? defaultLogger()).child({ component: "mcp" });
    this.owned = { registry: !options.registry, client: !options.client, auth: !options.auth };
    this.registry = options.registry ?? resolveRegistry(undefined, undefined, { logger: this.log });
    // No token of its own (token ""): each call carries its caller's token, and a caller without one
    // must not borrow MICRO_AUTH_TOKEN's rights.
    this.client = options.client ?? createClient({ registry: this.registry, logger: this.log, token: "" });
    this.auth = options.auth ?? resolveAuth();
    this.access = new AccessPolicy(this.auth);
    this.catalogue = new Catalogue({
      registry: this.registry,
      naming: options.naming,
      services: options.services,
      tools: options.tools,
      logger: this.log,
    });
    this.invoker = new Invoker({
      catalogue: this.catalogue,
      client: this.client,
      access: this.access,
      defaults: options.defaults,
      tools: options.tools,
      maxArgumentBytes: options.maxArgumentBytes,
      maxStreamItems: options.maxStreamItems,
      logger: this.log,
    });
    this.mount = new HttpHandler({ ready: () => this.start(), access: this.access, newSession: () => this.session("http"), logger: this.log }, options.http);
  }

  /** Loads the SDK, reads the registry and starts watching it; later calls share the first. */
  start(): Promise<Sdk> {
    this.starting ??= (async () => {
      const sdk = await loadSdk();
      this.sdkNow = sdk;
      await this.catalogue.start();
      await this.startIdentity();
      return sdk;
    })();
    return this.starting;
  }

  private async startIdentity(): Promise<void> {
    const credentials =
      this.options.credentials ??
      (process.env.MICRO_AUTH_ID && process.env.MICRO_AUTH_SECRET ? { id: process.env.MICRO_AUTH_ID, secret: process.env.MICRO_AUTH_SECRET } : undefined);
    if (!credentials || !this.access.enabled || this.options.token) return;
    this.identity = new ServiceIdentity({ auth: this.auth, ...credentials, logger: this.log });
    await this.identity.start();
  }

  /** The stdio caller: the configured token or credentials' token, checked like an HTTP caller's. */
  private stdioCaller(): Promise<Caller> {
    const token = this.options.token ?? this.identity?.token ?? (process.env.MICRO_AUTH_TOKEN || undefined);
    return token ? this.access.identify(token) : Promise.resolve(ANONYMOUS);
  }

  private session(transport: string): ReturnType<typeof createSession> {
    const sdk = this.sdkNow;
    if (!sdk) throw new Error("mcp: the gateway has not started");
    return createSession({
      sdk,
      catalogue: this.catalogue,
      invoker: this.invoker,
      access: this.access,
      info: { name: this.options.name ?? "ts-micro", version: VERSION },
      transport,
      defaultCaller: () => this.stdioCaller(),
    });
  }

  /** Serves MCP on a pair of streams (default: this process's stdin/stdout) until the input ends. */
  async serveStdio(input: Readable = process.stdin, output: Writable = process.stdout): Promise<void> {
    const sdk = await this.start();
    const transport = new LineTransport(sdk, { input, output, maxMessageBytes: this.options.maxMessageBytes });
    const server = this.session("stdio");
    const ended = new Promise<void>((resolve) => {
      transport.onclose = resolve;
    });
    // connect() keeps the onclose set above: it calls it, then its own.
    await server.connect(transport);
    this.closers.push(() => server.close());
    return ended.then(() => {});
  }

  /** Serves Streamable HTTP at `http://<address>/mcp`; resolves with the bound `host:port`. */
  async listen(address: string): Promise<string> {
    await this.start();
    const { host, port } = splitHostPort(address);
    const server = http.createServer((req, res) => void this.mount.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host || "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.servers.push(server);
    const bound = server.address();
    return typeof bound === "object" && bound ? joinHostPort(bound.address, bound.port) : address;
  }

  /** The tools there are now (for every caller: no access check). */
  async tools(): Promise<Tool[]> {
    await this.start();
    return this.catalogue.list();
  }

  /** Calls a tool as the stdio caller would (the CLI's `micro mcp call`). */
  async call(name: string, args: unknown): Promise<ToolResult> {
    await this.start();
    return this.invoker.call(name, args, await this.stdioCaller(), { transport: "cli" });
  }

  async close(): Promise<void> {
    this.catalogue.close();
    this.identity?.stop();
    for (const close of this.closers.splice(0)) await close().catch(() => {});
    await this.mount.close();
    for (const server of this.servers.splice(0)) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (this.owned.client) await this.client.close();
    if (this.owned.registry) await this.registry.close();
    if (this.owned.auth) await this.auth.close();
  }
}

export function createMcpGateway(options?: McpGatewayOptions): McpGateway {
  return new McpGateway(options);
}
