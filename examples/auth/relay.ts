/**
 * A service with an identity of its own (MICRO_AUTH_ID / MICRO_AUTH_SECRET): Relay.Hello calls
 * the greeter as itself, with a token it renews before it expires.
 */
import { type Context, createService } from "ts-micro";

const service = createService({ name: "relay" });
service.handle(
  {
    Hello: (req: { name: string }, ctx: Context) => service.client.call("greeter", "Greeter.Hello", req, { ctx }),
  },
  { name: "Relay" },
);
await service.run();
