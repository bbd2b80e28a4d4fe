/**
 * `npm run bench:mcp`: what a tool call through the MCP gateway costs next to the same call made
 * directly with the client (the baseline, measured in the same run). One greeter service, one
 * gateway on Streamable HTTP and the SDK's client, all in this process on a memory registry:
 * calls/s at concurrency 1 and 16, median of 3 rounds, and the ratio to the direct call.
 */
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Greeter } from "../examples/greeter/greeter.js";
import { createClient, createService } from "../src/index.js";
import { createLogger } from "../src/logger/logger.js";
import { createMcpGateway } from "../src/mcp/index.js";
import { MemoryRegistry } from "../src/registry/memory.js";

// The SDK's HTTP client transport adds an abort listener per request to one long-lived signal
// (its own, client side), which trips Node's leak warning thousands of times in a run this long.
process.removeAllListeners("warning");
process.on("warning", (warning) => {
  if (warning.name !== "MaxListenersExceededWarning") process.stderr.write(`${warning.name}: ${warning.message}\n`);
});

const quick = process.argv.includes("--quick");
const CALLS = quick ? 500 : 3_000;
const ROUNDS = 3;
const logger = createLogger({ level: "warn" });

const registry = new MemoryRegistry();
const service = createService({ name: "greeter", registry, logger });
service.handle(new Greeter());
await service.start();
const client = createClient({ registry, logger });
const gateway = createMcpGateway({ registry, logger });
const address = await gateway.listen("127.0.0.1:0");
const mcp = new McpClient({ name: "bench", version: "1" });
await mcp.connect(new StreamableHTTPClientTransport(new URL(`http://${address}/mcp`)));

/** calls/s of `call` run CALLS times by `concurrency` workers, median of ROUNDS after a warm-up. */
async function measure(call: () => Promise<unknown>, concurrency: number): Promise<number> {
  const run = async (n: number): Promise<number> => {
    let left = n;
    const start = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (left-- > 0) await call();
      }),
    );
    return n / (Number(process.hrtime.bigint() - start) / 1e9);
  };
  await run(Math.ceil(CALLS / 10));
  const rates: number[] = [];
  for (let i = 0; i < ROUNDS; i++) rates.push(await run(CALLS));
  return rates.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
}

const direct = () => client.call("greeter", "Greeter.Hello", { name: "Ada" });
const tool = () => mcp.callTool({ name: "greeter.Greeter.Hello", arguments: { name: "Ada" } });

process.stdout.write(`MCP tools/call vs a direct call, ${CALLS} calls × ${ROUNDS} rounds (median), Node ${process.version}\n\n`);
process.stdout.write("| call | c | calls/s | × direct |\n|---|---:|---:|---:|\n");
for (const concurrency of [1, 16]) {
  const floor = await measure(direct, concurrency);
  const viaMcp = await measure(tool, concurrency);
  process.stdout.write(`| client.call (baseline) | ${concurrency} | ${Math.round(floor)} | 1.00 |\n`);
  process.stdout.write(`| MCP tools/call, Streamable HTTP | ${concurrency} | ${Math.round(viaMcp)} | ${(viaMcp / floor).toFixed(2)} |\n`);
}

await mcp.close();
await gateway.close();
await client.close();
await service.stop();
