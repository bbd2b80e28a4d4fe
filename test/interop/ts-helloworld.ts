/**
 * The ts-micro twin of interop/helloworld: Helloworld.Call, Helloworld.Stream (server stream) and
 * Helloworld.Echo, on default settings (mux port that also answers Go Micro's HTTP transport,
 * unless MICRO_TRANSPORT says otherwise). Prints "READY <address>" once registered.
 */
import { type Context, createService, MicroError } from "../../src/index.js";

export class Helloworld {
  async Call(req: { name?: string }, ctx: Context): Promise<{ msg: string }> {
    if (!req.name) throw MicroError.badRequest("tshello", "name is required");
    if (req.name === "missing") throw MicroError.notFound("tshello", "no user called missing");
    if (req.name === "conflict") throw MicroError.conflict("tshello", "already there");
    const greeting = ctx.metadata.get("Greeting");
    return { msg: `${greeting ?? "Hello"} ${req.name} from ts-micro` };
  }

  async *Stream(req: { count: number }): AsyncGenerator<{ count: number }> {
    if (req.count < 0) throw MicroError.badRequest("tshello", "count must not be negative");
    for (let i = 0; i < req.count; i++) yield { count: i };
  }

  async Echo(req: unknown): Promise<unknown> {
    return req;
  }
}

const service = createService({ name: process.env.INTEROP_NAME ?? "tshello" });
service.handle(new Helloworld());
await service.start();
process.stdout.write(`READY ${service.address}\n`);
process.once("SIGTERM", () => void service.stop().then(() => process.exit(0)));
