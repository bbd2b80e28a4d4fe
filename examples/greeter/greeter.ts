import { type Context, MicroError } from "ts-micro";
import type { GreeterHandler } from "./greeter.pb.js";

export interface HelloRequest {
  name: string;
}

export interface HelloResponse {
  msg: string;
}

/**
 * The handler: each public method is an endpoint (`Greeter.Hello`, `Greeter.Count`, …).
 * `implements GreeterHandler` checks it against greeter.proto (types from `micro gen proto`).
 */
export class Greeter implements GreeterHandler {
  /** Asked on every call, so a config change applies to the next one. A private field: not an endpoint. */
  readonly #greeting: () => string;

  constructor(greeting: () => string = () => "Hello") {
    this.#greeting = greeting;
  }

  /** Request/response. */
  async Hello(req: HelloRequest, _ctx: Context): Promise<HelloResponse> {
    if (!req?.name) throw MicroError.badRequest("greeter", "name is required");
    return { msg: `${this.#greeting()} ${req.name}` };
  }

  /** Server stream: n = 1 … to. */
  async *Count(req: { to: number; delayMs?: number }, ctx: Context): AsyncIterable<{ n: number }> {
    if (!Number.isInteger(req?.to) || req.to < 0) throw MicroError.badRequest("greeter", "to must be a whole number ≥ 0");
    for (let n = 1; n <= req.to && !ctx.signal.aborted; n++) {
      if (req.delayMs) await new Promise((resolve) => setTimeout(resolve, req.delayMs));
      yield { n };
    }
  }

  /** Client stream: adds up every n it is sent. */
  async Sum(numbers: AsyncIterable<{ n: number }>, _ctx: Context): Promise<{ total: number }> {
    let total = 0;
    for await (const { n } of numbers) total += n;
    return { total };
  }

  /** Bidirectional stream: each message back as it arrives. */
  async *Echo(messages: AsyncIterable<{ text: string }>, _ctx: Context): AsyncIterable<{ text: string }> {
    for await (const message of messages) yield message;
  }
}

/** Sum takes a stream but is not an `async *` method: say so, so the registry marks it a stream. */
export const greeterEndpoints = { Sum: { stream: true } };
