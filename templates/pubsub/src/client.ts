/** Greets through the running service, then lists what its subscriber received: `npm run client -- Bob`. */
import { createClient } from "ts-micro";
import type { Helloworld } from "./handler.js";

const client = createClient();
const api = client.service<{ Helloworld: Helloworld }>("helloworld").Helloworld;
try {
  const { msg } = await api.Call({ name: process.argv[2] ?? "Alice" }, { timeout: 5_000 });
  console.log(msg);
  // Delivery is asynchronous: give the subscriber a moment before asking what it received.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const { greetings } = await api.Recent({}, { timeout: 5_000 });
  for (const greeting of greetings) console.log(`${greeting.at} ${greeting.name}`);
} finally {
  await client.close();
}
