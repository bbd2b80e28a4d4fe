/**
 * Calls the greeter service: `node dist/examples/greeter/client.js Ada` (with the server running).
 * The response type comes from the Greeter class: no code generation.
 */
import { createClient, MicroError } from "../../src/index.js";
import type { Greeter } from "./greeter.js";

const client = createClient();
const greeter = client.service<Greeter>("greeter");

const { msg } = await greeter.Greeter.Hello({ name: process.argv[2] ?? "Ada" }, { timeout: 2_000 });
console.log(msg);

try {
  await greeter.Greeter.Hello({ name: "" });
} catch (err) {
  if (err instanceof MicroError) console.log(`without a name: ${err.code} ${err.detail}`);
}
client.close();
