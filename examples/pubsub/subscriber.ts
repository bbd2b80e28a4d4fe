/**
 * A service that reacts to events: every `user.created` message, decoded from JSON into a typed
 * payload. Run two of these: with `queue`, each message goes to one of them.
 */
import { createService, type MessageContext } from "ts-micro";

export interface UserCreated {
  id: number;
  name: string;
}

const service = createService({ name: "welcome" });

service.subscribe<UserCreated>(
  "user.created",
  async (user: UserCreated, ctx: MessageContext) => {
    console.log(`welcome ${user.name} (#${user.id}), trace ${ctx.metadata.get("Trace-Id") ?? "-"}, pid ${process.pid}`);
    // Throwing here logs the error and, on brokers that can, redelivers the message.
  },
  { queue: "welcome" },
);

await service.run();
