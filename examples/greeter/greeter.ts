import { type Context, MicroError } from "../../src/index.js";

export interface HelloRequest {
  name: string;
}

export interface HelloResponse {
  msg: string;
}

/** The handler: each public method is an endpoint, `Greeter.Hello`. */
export class Greeter {
  async Hello(req: HelloRequest, _ctx: Context): Promise<HelloResponse> {
    if (!req?.name) throw MicroError.badRequest("greeter", "name is required");
    return { msg: `Hello ${req.name}` };
  }
}
