/**
 * Calls the greeter service: `node dist/examples/greeter/client.js Ada` (with the server running).
 * Request and response types come from the Greeter class: no code generation.
 */
import { createClient, MicroError } from "ts-micro";
import type { Greeter } from "./greeter.js";

const client = createClient();
const greeter = client.service<{ Greeter: Greeter }>("greeter").Greeter;

// Request/response.
const { msg } = await greeter.Hello({ name: process.argv[2] ?? "Ada" }, { timeout: 2_000 });
console.log(msg);

try {
  await greeter.Hello({ name: "" });
} catch (err) {
  if (err instanceof MicroError) console.log(`without a name: ${err.code} ${err.detail}`);
}

// Server stream: iterate the responses.
for await (const { n } of greeter.Count({ to: 3 })) console.log(`count ${n}`);

// Client stream: send a stream, await the one response.
async function* numbers(): AsyncIterable<{ n: number }> {
  for (const n of [1, 2, 3, 4]) yield { n };
}
console.log(`sum ${(await greeter.Sum(numbers())).total}`);

// Bidirectional stream: each message comes back as it is sent.
async function* words(): AsyncIterable<{ text: string }> {
  for (const text of ["ping", "pong"]) yield { text };
}
for await (const { text } of greeter.Echo(words())) console.log(`echo ${text}`);

await client.close();
