/**
 * Load generator for a Go Micro server, run as its own process:
 * `node interop-load.js <address> <concurrency> <warmup s> <seconds>`. A ts-micro client on the
 * HTTP transport calls `helloworld` `Helloworld.Echo` at `address`. Prints one JSON LoadResult line.
 */
import { createClient, createLogger } from "../../src/index.js";
import { HttpTransport } from "../../src/transport/http/http.js";
import { closedLoop, PAYLOAD } from "../payload.js";

const [address, concurrencyArg, warmupArg, secondsArg] = process.argv.slice(2);
const client = createClient({ transport: new HttpTransport(), logger: createLogger({ level: "warn" }), retries: 0 });
const call = (): Promise<unknown> => client.call("helloworld", "Helloworld.Echo", PAYLOAD, { address });
const result = await closedLoop(call, Number(concurrencyArg), Number(warmupArg), Number(secondsArg));
process.stdout.write(`${JSON.stringify({ bench: "interop", framework: "ts-micro", transport: "http", ...result })}\n`);
process.exit(0);
