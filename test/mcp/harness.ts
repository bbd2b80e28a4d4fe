/**
 * Helpers for the MCP tests: MCP clients from the official SDK talking to `micro mcp serve` run as
 * its own process, over stdio (the client launches it, as Claude Desktop does) or Streamable HTTP.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { cli } from "../process/harness.js";

export interface Connected {
  client: Client;
  /** tools/list_changed notifications received so far. */
  changes: () => number;
  close: () => Promise<void>;
}

function watchChanges(client: Client): () => number {
  let changes = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    changes++;
  });
  return () => changes;
}

/** An SDK client that launches `micro mcp serve` over stdio. */
export async function connectStdio(env: Record<string, string>): Promise<Connected> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cli, "mcp", "serve"],
    env: { ...(process.env as Record<string, string>), MICRO_LOG_LEVEL: "warn", ...env },
    stderr: "ignore",
  });
  const client = new Client({ name: "ts-micro-test", version: "1.0.0" });
  const changes = watchChanges(client);
  await client.connect(transport, { timeout: 30_000 });
  return { client, changes, close: () => client.close() };
}

/** An SDK client on the Streamable HTTP endpoint `url`, with a bearer token if given. */
export async function connectHttp(url: string, token?: string): Promise<Connected> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: token ? { headers: { Authorization: `Bearer ${token}` } } : undefined,
  });
  const client = new Client({ name: "ts-micro-test", version: "1.0.0" });
  const changes = watchChanges(client);
  await client.connect(transport, { timeout: 30_000 });
  return { client, changes, close: () => client.close() };
}

export interface Gateway {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** Runs `micro mcp serve --address 127.0.0.1:0 …` and resolves with its URL once it listens. */
export function startHttpGateway(env: Record<string, string>, args: string[] = [], timeout = 30_000): Promise<Gateway> {
  const child = spawn(process.execPath, [cli, "mcp", "serve", "--address", "127.0.0.1:0", ...args], {
    env: { ...process.env, MICRO_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`micro mcp serve did not listen in ${timeout} ms; output:\n${output}`));
    }, timeout);
    const onData = (): void => {
      const match = /MCP gateway on (http:\/\/\S+)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      resolve({ child, url: match[1], output: () => output });
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`micro mcp serve exited with ${code}; output:\n${output}`));
    });
  });
}

/** A raw POST to the gateway: status and parsed JSON body. */
export async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; json: RpcReply | undefined }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...headers },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as RpcReply) : undefined };
}

export interface RpcReply {
  jsonrpc?: string;
  id?: string | number | null;
  result?: unknown;
  error?: { code: number; message: string };
}
