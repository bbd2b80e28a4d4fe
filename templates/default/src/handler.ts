import { type Context, MicroError } from "ts-micro";

export interface CallRequest {
  name: string;
}

export interface CallResponse {
  msg: string;
}

export interface StreamRequest {
  count: number;
}

export interface StreamResponse {
  count: number;
}

/**
 * The helloworld service's endpoints: every public method is one, named <Class>.<Method>
 * (Helloworld.Call, Helloworld.Stream). Clients import this class's type only, so the types are
 * the API and there is no code to generate.
 */
export class Helloworld {
  /** Answers `{"name":"Alice"}` with `{"msg":"Hello Alice"}`. */
  async Call(req: CallRequest, _ctx: Context): Promise<CallResponse> {
    if (!req.name) throw MicroError.badRequest("helloworld", "name is required");
    return { msg: `Hello ${req.name}` };
  }

  /** Streams `{"count":1}` … `{"count":n}` for `{"count":n}`; stops early if the caller goes away. */
  async *Stream(req: StreamRequest, ctx: Context): AsyncIterable<StreamResponse> {
    for (let count = 1; count <= req.count && !ctx.signal.aborted; count++) yield { count };
  }
}
