/**
 * The MCP gateway's contract: every endpoint of every registered service is a Model Context
 * Protocol tool that an AI agent can list and call. Types only; the gateway is in gateway.ts.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TraceHeaders } from "../metadata/headers.js";

/** A JSON Schema (draft 2020-12 subset) as tools publish their input. */
export interface JsonSchema {
  type?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  examples?: unknown[];
  contentEncoding?: string;
}

/** One tool: an endpoint of a service. */
export interface Tool {
  /** The tool's name (see `ToolNaming`). */
  name: string;
  service: string;
  /** `<Handler>.<Method>`. */
  endpoint: string;
  description: string;
  inputSchema: JsonSchema & { type: "object" };
  /** Scopes one of which a caller must hold to see and call it (endpoint metadata `scopes`, or the `tools` option). */
  scopes: string[];
  /** A stream endpoint: its responses are collected (see `maxStreamItems`). */
  stream: boolean;
}

/**
 * How tools are named. `dotted` (the default) is Go Micro's name, `greeter.Greeter.Hello`, valid
 * under MCP's tool-name rule `[A-Za-z0-9_.-]{1,128}`. `underscore` (`greeter_Greeter_Hello`) is
 * for clients that take only `[A-Za-z0-9_-]{1,64}`, as some model APIs do. In both, any other
 * character becomes `_`.
 */
export type ToolNaming = "dotted" | "underscore";

/** Limits and access for one tool, or the defaults for all. */
export interface ToolOptions {
  /** Longest wait for the call, in ms (default: 30 s). */
  timeout?: number;
  /** Calls per second allowed (a token bucket; default: unlimited). */
  rateLimit?: number;
  /** Calls allowed at once above the rate (default: the rate rounded up, at least 1). */
  burst?: number;
  /** Replaces the endpoint's `scopes` metadata. */
  scopes?: string[];
}

/** The gateway's HTTP handler in the shape the HTTP gateway mounts (`createGateway({ mounts })`). */
export interface McpMount {
  /** `/mcp`. */
  readonly prefix: string;
  /** `trace`: trace headers naming the span of the request (the HTTP gateway's), sent with the calls made for it. */
  handle(req: IncomingMessage, res: ServerResponse, trace?: TraceHeaders): void | Promise<void>;
}

/** How a call ended, as the audit log records it. */
export type CallOutcome = "ok" | "error" | "denied" | "rate_limited" | "invalid";
