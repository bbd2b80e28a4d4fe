/**
 * A tool call, from the tool's name and arguments to the MCP result, through the normal client
 * (registry cache, selector, deadline, retries):
 *   unknown tool or bad arguments → a protocol error (JSON-RPC -32602), nothing called;
 *   the caller may not use the tool → a tool error 403; over the tool's rate → a tool error 429;
 *   the endpoint's answer → JSON text content plus `structuredContent`;
 *   a MicroError → a tool error carrying its `{id, code, detail, status}`.
 * Stream endpoints are read to their end or to `maxStreamItems` responses, each reported as a
 * progress notification when the client asked for progress. One audit line per call.
 */
import { AUTHORIZATION, BEARER_SCHEME } from "../auth/auth.js";
import type { Client } from "../client/client.js";
import { MicroError } from "../errors/errors.js";
import type { Logger } from "../logger/logger.js";
import type { TraceHeaders } from "../metadata/headers.js";
import type { AccessPolicy, Caller } from "./access.js";
import type { Catalogue } from "./catalogue.js";
import type { CallOutcome, Tool, ToolOptions } from "./mcp.js";
import { RateLimits } from "./rate-limit.js";

/** JSON-RPC's invalid-params code: what MCP answers for an unknown tool or unusable arguments. */
export const INVALID_PARAMS = -32602;

/** A call refused before any tool ran: the gateway answers it as a JSON-RPC error. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** An MCP `tools/call` result. */
export interface ToolResult {
  [key: string]: unknown;
  content: { type: "text"; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

export interface InvokeOptions {
  /** Which transport the call came by, for the audit line. */
  transport: string;
  signal?: AbortSignal;
  /** Reports the `n`th response of a stream (when the client asked for progress). */
  progress?: (n: number, message: unknown) => Promise<void>;
  /** Trace headers naming the span the call belongs to (the HTTP gateway's span for the request), sent with it. */
  trace?: TraceHeaders;
}

export interface InvokerOptions {
  catalogue: Catalogue;
  client: Client;
  access: AccessPolicy;
  /** Defaults for every tool (timeout default 30 s). */
  defaults?: ToolOptions;
  /** Options by tool name, over the defaults. */
  tools?: Record<string, ToolOptions>;
  /** Largest arguments accepted, as JSON bytes (default 256 KiB). */
  maxArgumentBytes?: number;
  /** Responses of a stream endpoint collected at most (default 100); the result says when it stopped early. */
  maxStreamItems?: number;
  logger: Logger;
}

const DEFAULT_TIMEOUT = 30_000;

export class Invoker {
  private readonly limits: RateLimits;
  private readonly maxArgumentBytes: number;
  private readonly maxStreamItems: number;

  constructor(private readonly options: InvokerOptions) {
    this.limits = new RateLimits((tool) => {
      const { rateLimit, burst } = this.optionsFor(tool);
      return rateLimit === undefined ? undefined : { rate: rateLimit, burst };
    });
    this.maxArgumentBytes = options.maxArgumentBytes ?? 256 * 1024;
    this.maxStreamItems = options.maxStreamItems ?? 100;
  }

  private optionsFor(tool: string): ToolOptions {
    return { ...this.options.defaults, ...this.options.tools?.[tool] };
  }

  /** Runs a tool call; throws ProtocolError for calls that name no tool or carry unusable arguments. */
  async call(name: string, args: unknown, caller: Caller, how: InvokeOptions): Promise<ToolResult> {
    const started = performance.now();
    const audit = (outcome: CallOutcome, fields: Record<string, unknown> = {}): void =>
      this.options.logger.info("mcp tool call", {
        tool: name,
        account: caller.account?.id ?? null,
        outcome,
        ...fields,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        transport: how.transport,
      });
    const tool = this.options.catalogue.get(name);
    try {
      if (!tool) throw new ProtocolError(INVALID_PARAMS, `unknown tool ${JSON.stringify(name)}: tools/list shows the tools there are`);
      this.checkArguments(args);
    } catch (err) {
      audit("invalid", { reason: (err as Error).message });
      throw err;
    }
    const denied = await this.options.access.denial(tool, caller);
    if (denied !== undefined) {
      audit("denied", { code: 403, reason: denied });
      return errorResult(MicroError.forbidden("mcp", `forbidden: ${denied}`));
    }
    if (!this.limits.take(tool.name)) {
      audit("rate_limited", { code: 429 });
      return errorResult(new MicroError("mcp", 429, `rate limit exceeded for ${tool.name}`));
    }
    try {
      const result = await this.run(tool, args ?? {}, caller, how);
      audit("ok");
      return result;
    } catch (err) {
      const error = err instanceof MicroError ? err : MicroError.from(err, "mcp");
      audit("error", { code: error.code, detail: error.detail });
      return errorResult(error);
    }
  }

  /** Arguments are a JSON object (or absent) no larger than the limit. */
  private checkArguments(args: unknown): void {
    if (args !== undefined && (typeof args !== "object" || args === null || Array.isArray(args)))
      throw new ProtocolError(INVALID_PARAMS, "arguments must be a JSON object");
    const size = args === undefined ? 0 : Buffer.byteLength(JSON.stringify(args));
    if (size > this.maxArgumentBytes) throw new ProtocolError(INVALID_PARAMS, `arguments too large: ${size} bytes (limit ${this.maxArgumentBytes})`);
  }

  private async run(tool: Tool, args: unknown, caller: Caller, how: InvokeOptions): Promise<ToolResult> {
    const metadata: Record<string, string> = { ...how.trace, "Mcp-Tool-Name": tool.name };
    // The service checks the same caller the gateway did: its token travels with the call.
    if (caller.token) metadata[AUTHORIZATION] = `${BEARER_SCHEME}${caller.token}`;
    if (caller.account) metadata["Mcp-Account-Id"] = caller.account.id;
    const options = { timeout: this.optionsFor(tool.name).timeout ?? DEFAULT_TIMEOUT, metadata, signal: how.signal };
    const client = this.options.client;
    if (!tool.stream) return okResult(await client.call(tool.service, tool.endpoint, args, options));
    const items: unknown[] = [];
    let truncated = false;
    for await (const message of client.stream(tool.service, tool.endpoint, args, options)) {
      if (items.length === this.maxStreamItems) {
        truncated = true;
        break; // cancels the stream on the server
      }
      items.push(message ?? null);
      await how.progress?.(items.length, message);
    }
    return okResult({ items, truncated });
  }
}

function okResult(value: unknown): ToolResult {
  const result: ToolResult = { content: [{ type: "text", text: JSON.stringify(value ?? null) }] };
  // structuredContent must be an object; any other answer is wrapped.
  result.structuredContent = isObject(value) ? value : { result: value ?? null };
  return result;
}

function errorResult(error: MicroError): ToolResult {
  const json = error.toJSON();
  return { content: [{ type: "text", text: JSON.stringify(json) }], structuredContent: { error: json }, isError: true };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
