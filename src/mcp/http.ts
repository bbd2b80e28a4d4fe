/**
 * MCP's Streamable HTTP transport on one path (`/mcp`), with sessions: `initialize` (a POST
 * without `Mcp-Session-Id`) opens one, its id comes back in the header, and later POSTs, the
 * GET that carries server notifications (`tools/list_changed`) and the DELETE that ends it name
 * it. The SDK's transport does the protocol; this handler does what comes before it:
 * - the caller: `Authorization: Bearer <token>` on every request (with auth on, a bad token is
 *   a 401 with `WWW-Authenticate: Bearer`; none is an anonymous caller, who sees public tools);
 * - limits: a body over `maxBodyBytes` is a 413, and a session idle for `sessionIdleTimeout` is
 *   closed; at most `maxSessions` at once (then 503);
 * - browsers: a request with an `Origin` not on this host (or `allowedOrigins`) is a 403, so a web
 *   page cannot reach a local gateway (DNS rebinding).
 * Every refusal is a JSON-RPC error body; nothing a client sends stops the gateway serving others.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { MicroError } from "../errors/errors.js";
import type { Logger } from "../logger/logger.js";
import type { TraceHeaders } from "../metadata/headers.js";
import { BodyTooLargeError, readBody } from "../transport/http/body.js";
import type { AccessPolicy, Caller } from "./access.js";
import type { McpMount } from "./mcp.js";
import type { Sdk } from "./sdk.js";
import { authInfoFor } from "./session.js";

export interface HttpOptions {
  /** Largest request body, in bytes (default 4 MiB). */
  maxBodyBytes?: number;
  /** Sessions open at once (default 1000). */
  maxSessions?: number;
  /** Milliseconds a session may go unused before it is closed (default 30 min). */
  sessionIdleTimeout?: number;
  /** Origins allowed besides this host's (`http://localhost:3000`); `*` allows any. */
  allowedOrigins?: string[];
}

export interface HttpDeps {
  ready: () => Promise<Sdk>;
  access: AccessPolicy;
  newSession: () => Server;
  logger: Logger;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: Server;
  lastSeen: number;
}

const SESSION_HEADER = "mcp-session-id";
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

export class HttpHandler implements McpMount {
  readonly prefix = "/mcp";
  private readonly sessions = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly maxBodyBytes: number;
  private readonly maxSessions: number;
  private readonly idleTimeout: number;

  constructor(
    private readonly deps: HttpDeps,
    private readonly options: HttpOptions = {},
  ) {
    this.maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
    this.maxSessions = options.maxSessions ?? 1000;
    this.idleTimeout = options.sessionIdleTimeout ?? 30 * 60_000;
    this.sweeper = setInterval(() => this.sweep(), Math.min(60_000, this.idleTimeout));
    this.sweeper.unref();
  }

  /** Sessions open now. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  readonly handle = async (req: IncomingMessage, res: ServerResponse, trace?: TraceHeaders): Promise<void> => {
    try {
      await this.serve(req, res, trace);
    } catch (err) {
      this.deps.logger.warn("mcp: http request failed", { err: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) reply(res, 500, -32603, "internal error");
      else res.end();
    }
  };

  private async serve(req: IncomingMessage, res: ServerResponse, trace: TraceHeaders | undefined): Promise<void> {
    const path = (req.url ?? "/").split("?")[0].replace(/\/+$/, "");
    // The HTTP gateway may pass the path with its mount prefix or without it.
    if (path !== this.prefix && path !== "") return reply(res, 404, -32600, `not found: MCP is served at ${this.prefix}`);
    if (!this.originAllowed(req)) return reply(res, 403, -32600, `origin ${req.headers.origin} is not allowed`);
    const sdk = await this.deps.ready();
    let caller: Caller;
    try {
      caller = await this.deps.access.identifyHeader(req.headers.authorization);
    } catch (err) {
      const detail = err instanceof MicroError ? err.detail : String(err);
      res.setHeader("WWW-Authenticate", `Bearer error="invalid_token", error_description=${JSON.stringify(detail)}`);
      return reply(res, 401, -32001, detail);
    }
    (req as IncomingMessage & { auth?: unknown }).auth = authInfoFor(caller, trace);
    const body = req.method === "POST" ? await this.readBody(req, res) : undefined;
    if (body === ANSWERED) return;
    const id = header(req, SESSION_HEADER);
    if (id !== undefined) {
      const session = this.sessions.get(id);
      if (!session) return reply(res, 404, -32001, "session not found: initialize a new one");
      session.lastSeen = Date.now();
      return session.transport.handleRequest(req, res, body?.value);
    }
    if (req.method !== "POST" || !body || !sdk.types.isInitializeRequest(body.value)) {
      return reply(res, 400, -32600, "bad request: no Mcp-Session-Id header; open a session with an initialize request");
    }
    if (this.sessions.size >= this.maxSessions) return reply(res, 503, -32603, `too many sessions (limit ${this.maxSessions})`);
    await this.open(sdk).handleRequest(req, res, body.value);
  }

  /** A new session's transport, its server connected; the session is kept once initialized. */
  private open(sdk: Sdk): StreamableHTTPServerTransport {
    const server = this.deps.newSession();
    const transport: StreamableHTTPServerTransport = new sdk.http.StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        this.sessions.set(id, { transport, server, lastSeen: Date.now() });
      },
      onsessionclosed: (id) => {
        this.sessions.delete(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) this.sessions.delete(transport.sessionId);
    };
    void server.connect(transport);
    return transport;
  }

  /**
   * The body parsed as JSON; a parse error is the client's JSON-RPC -32700. Answers 413 itself,
   * once the rest of an oversize body is drained (transport/http/body.ts).
   */
  private async readBody(req: IncomingMessage, res: ServerResponse): Promise<{ value: unknown } | typeof ANSWERED> {
    let bytes: Buffer;
    try {
      bytes = await readBody(req, this.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError) this.tooLarge(res);
      else res.destroy(); // the client went away mid-body: nobody to answer
      return ANSWERED;
    }
    try {
      return { value: JSON.parse(bytes.toString("utf8")) };
    } catch (err) {
      reply(res, 400, -32700, `parse error: ${(err as Error).message}`);
      return ANSWERED;
    }
  }

  private tooLarge(res: ServerResponse): void {
    res.setHeader("Connection", "close");
    reply(res, 413, -32600, `request too large (limit ${this.maxBodyBytes} bytes)`);
  }

  private originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (!origin) return true;
    const allowed = this.options.allowedOrigins ?? [];
    if (allowed.includes("*") || allowed.includes(origin)) return true;
    try {
      return LOCAL_HOSTS.has(new URL(origin).hostname);
    } catch {
      return false;
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, session] of this.sessions) {
      if (now - session.lastSeen < this.idleTimeout) continue;
      this.sessions.delete(id);
      void session.transport.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map((s) => s.server.close().catch(() => {})));
  }
}

/** A request already answered (413, or a parse error). */
const ANSWERED = Symbol("answered");

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function reply(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } }));
}
