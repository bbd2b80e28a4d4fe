/** Publishes a few `user.created` messages from a plain script (no service needed). */
import { createClient } from "ts-micro";
import type { UserCreated } from "./subscriber.js";

const client = createClient();
for (let id = 1; id <= 5; id++) {
  await client.publish<UserCreated>("user.created", { id, name: `user-${id}` }, { metadata: { "Trace-Id": `trace-${id}` } });
  console.log(`published user ${id}`);
}
client.close();
