/** Saves a note through the running service and reads it back: `npm run client -- shopping "milk, eggs"`. */
import { createClient } from "ts-micro";
import type { Helloworld } from "./handler.js";

const client = createClient();
const api = client.service<{ Helloworld: Helloworld }>("helloworld").Helloworld;
try {
  const id = process.argv[2] ?? "first";
  await api.Save({ id, text: process.argv[3] ?? "hello" }, { timeout: 5_000 });
  const note = await api.Get({ id }, { timeout: 5_000 });
  console.log(`${note.id}: ${note.text} (${note.updated})`);
  console.log((await api.List({}, { timeout: 5_000 })).ids.join("\n"));
} finally {
  await client.close();
}
