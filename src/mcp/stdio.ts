/**
 * MCP over stdio: newline-delimited JSON-RPC on a pair of streams (the gateway's stdin and
 * stdout when an MCP client launches `micro mcp serve`). The SDK's own stdio transport drops a
 * line that is not JSON-RPC without an answer and closes on an oversized one; this one answers
 * each bad line with the JSON-RPC error it deserves and goes on reading:
 *   not JSON → -32700 parse error; JSON but not a JSON-RPC message → -32600 invalid request;
 *   a line over `maxMessageBytes` → -32600, the rest of that line skipped.
 */
import type { Readable, Writable } from "node:stream";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Sdk } from "./sdk.js";

export interface StdioOptions {
  input: Readable;
  output: Writable;
  /** Longest line accepted, in bytes (default 4 MiB). */
  maxMessageBytes?: number;
}

const NEWLINE = 0x0a;

export class LineTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T) => void;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Skipping the rest of an oversized line. */
  private skipping = false;
  private closed = false;
  private readonly max: number;

  constructor(
    private readonly sdk: Sdk,
    private readonly options: StdioOptions,
  ) {
    this.max = options.maxMessageBytes ?? 4 * 1024 * 1024;
  }

  async start(): Promise<void> {
    this.options.input.on("data", this.onData);
    this.options.input.once("end", this.onEnd);
    this.options.input.on("error", this.onError);
  }

  private readonly onError = (err: Error): void => this.onerror?.(err);
  private readonly onEnd = (): void => void this.close();

  private readonly onData = (chunk: Buffer | string): void => {
    let data = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    for (let at = data.indexOf(NEWLINE); at >= 0; at = data.indexOf(NEWLINE)) {
      const head = data.subarray(0, at);
      data = data.subarray(at + 1);
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      if (this.buffered + head.length > this.max) {
        this.drop();
        this.tooLarge();
        continue;
      }
      const line = this.chunks.length === 0 ? head : Buffer.concat([...this.chunks, head]);
      this.chunks = [];
      this.buffered = 0;
      this.line(line.toString("utf8").replace(/\r$/, ""));
    }
    if (data.length === 0 || this.skipping) return;
    if (this.buffered + data.length > this.max) {
      this.drop();
      this.skipping = true;
      this.tooLarge();
      return;
    }
    this.chunks.push(data);
    this.buffered += data.length;
  };

  private drop(): void {
    this.chunks = [];
    this.buffered = 0;
  }

  private tooLarge(): void {
    this.reject(null, -32600, `message too large (limit ${this.max} bytes)`);
  }

  private line(text: string): void {
    if (text.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.reject(null, -32700, `parse error: ${(err as Error).message}`);
      return;
    }
    const parsed = this.sdk.types.JSONRPCMessageSchema.safeParse(value);
    if (!parsed.success) {
      this.reject(idOf(value), -32600, "invalid request: not a JSON-RPC 2.0 message");
      return;
    }
    this.onmessage?.(parsed.data);
  }

  private reject(id: string | number | null, code: number, message: string): void {
    this.write({ jsonrpc: "2.0", id, error: { code, message } });
  }

  send(message: JSONRPCMessage): Promise<void> {
    return this.write(message);
  }

  private write(message: unknown): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.options.output.write(`${JSON.stringify(message)}\n`)) resolve();
      else this.options.output.once("drain", resolve);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.options.input.off("data", this.onData);
    this.options.input.off("end", this.onEnd);
    this.options.input.off("error", this.onError);
    this.onclose?.();
  }
}

/** The id of a request that is otherwise invalid, so the client can match the error. */
function idOf(value: unknown): string | number | null {
  const id = typeof value === "object" && value !== null ? (value as { id?: unknown }).id : undefined;
  return typeof id === "string" || typeof id === "number" ? id : null;
}
