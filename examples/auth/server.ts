/** A greeter whose calls are checked when started with MICRO_AUTH=jwt; it answers with the caller's account id. */
import { type Context, createService } from "ts-micro";

export class Greeter {
  async Hello(req: { name: string }, ctx: Context): Promise<{ msg: string; caller: string }> {
    // ctx.account is the checked caller (undefined only where a public rule let a caller in without a token).
    return { msg: `Hello ${req.name}`, caller: ctx.account?.id ?? "anonymous" };
  }
}

const service = createService({ name: "greeter" });
service.handle(new Greeter());
await service.run();
