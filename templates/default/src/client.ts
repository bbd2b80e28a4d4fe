/** Calls the running service through the registry, typed by the handler class: `npm run client -- Bob`. */
import { createClient } from "ts-micro";
import type { Helloworld } from "./handler.js";

const client = createClient();
const api = client.service<{ Helloworld: Helloworld }>("helloworld").Helloworld;
try {
  const { msg } = await api.Call({ name: process.argv[2] ?? "Alice" }, { timeout: 5_000 });
  console.log(msg);
  for await (const { count } of api.Stream({ count: 3 })) console.log(count);
} finally {
  await client.close();
}
