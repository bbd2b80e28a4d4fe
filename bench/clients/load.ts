/**
 * Load generator, run as its own process: `node load.js <framework> <address> <concurrency> <warmup s> <seconds>`.
 * Prints one JSON LoadResult line.
 */
import net from "node:net";
import { createClient, createLogger } from "../../src/index.js";
import { frame, readFrames } from "../frames.js";
import { closedLoop, PAYLOAD } from "../payload.js";

const [framework, address, concurrencyArg, warmupArg, secondsArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
const warmup = Number(warmupArg);
const seconds = Number(secondsArg);

async function rawCaller(): Promise<() => Promise<unknown>> {
  const [host, port] = address.split(":");
  const socket = net.connect({ host, port: Number(port), noDelay: true });
  await new Promise((r) => socket.once("connect", r));
  const waiting: Array<(body: Buffer) => void> = [];
  readFrames(socket, (body) => waiting.shift()!(body));
  // Same work per call as an RPC client does at minimum: encode the payload, decode the answer.
  return () =>
    new Promise((resolve) => {
      waiting.push((rsp) => resolve(JSON.parse(rsp.toString())));
      socket.write(frame(Buffer.from(JSON.stringify(PAYLOAD))));
    });
}

function microCaller(): () => Promise<unknown> {
  const client = createClient({ logger: createLogger({ level: "warn" }) });
  return () => client.call("bench-echo", "Bench.Echo", PAYLOAD);
}

const call = framework === "raw" ? await rawCaller() : microCaller();
const result = await closedLoop(call, concurrency, warmup, seconds);
process.stdout.write(`${JSON.stringify({ bench: "rpc", framework, transport: framework === "raw" ? "tcp" : "mux", ...result })}\n`);
process.exit(0);
