/**
 * The caller of the discovery benchmark: `node first-call.js <service>`. Looks the service up
 * (not there yet: its cache now watches it), prints WAITING, then calls it every millisecond until
 * a call succeeds, and prints `{"firstCallAt": <ms since epoch>}`. Gives up after 30 s.
 */
import { createClient, createLogger } from "../../src/index.js";

const service = process.argv[2];
const client = createClient({ logger: createLogger({ level: "silent" }), retries: 0, timeout: 1_000 });
await client.call(service, "Echo.Echo", {}).catch(() => undefined);
process.stdout.write("WAITING\n");
const deadline = Date.now() + 30_000;
for (;;) {
  try {
    await client.call(service, "Echo.Echo", {});
    break;
  } catch {
    if (Date.now() > deadline) process.exit(1);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
process.stdout.write(`${JSON.stringify({ firstCallAt: Date.now() })}\n`);
client.close();
process.exit(0);
