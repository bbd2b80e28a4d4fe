/** The Echo handler behind test/grpc/echo.proto, served by the gRPC tests (and the interop program). */
import path from "node:path";
import { type Context, MicroError } from "../../src/index.js";

/** The .proto files beside this file's source (tests run from dist/). */
export const PROTO_DIR = path.resolve(import.meta.dirname, "..", "..", "..", "test", "grpc");
export const ECHO_PROTO = path.join(PROTO_DIR, "echo.proto");

export interface EchoResponse {
  msg: string;
  metadata?: Record<string, string>;
}

export class Echo {
  /** The signal of the last Slow call, to see that a passed deadline reached the handler. */
  lastSlow: AbortSignal | undefined;

  async Call(req: { name: string }, ctx: Context): Promise<EchoResponse> {
    const metadata: Record<string, string> = {};
    for (const [key, value] of ctx.metadata) if (key.startsWith("x-")) metadata[key] = value;
    return { msg: `hello ${req.name}`, metadata };
  }

  async *Count(req: { to: number }): AsyncIterable<{ n: number }> {
    for (let n = 1; n <= req.to; n++) yield { n };
  }

  async Sum(numbers: AsyncIterable<{ n: number }>): Promise<{ total: number }> {
    let total = 0;
    for await (const { n } of numbers) total += n;
    return { total };
  }

  async *Chat(messages: AsyncIterable<{ name: string }>): AsyncIterable<EchoResponse> {
    for await (const { name } of messages) yield { msg: `hi ${name}` };
  }

  async Fail(req: { code: number; detail?: string }): Promise<EchoResponse> {
    throw new MicroError("echo", req.code, req.detail || "failed on purpose");
  }

  async Slow(req: { ms: number }, ctx: Context): Promise<EchoResponse> {
    this.lastSlow = ctx.signal;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, req.ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return { msg: ctx.signal.aborted ? "aborted" : "done" };
  }
}

/** Sum and Chat take streams: said here for services without the .proto (gRPC callers do not say). */
export const echoEndpoints = { Sum: { stream: true }, Chat: { stream: true } };
