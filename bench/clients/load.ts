/**
 * Load generator, run as its own process: `node load.js <framework> <address> <concurrency> <warmup s> <seconds>`.
 * Prints one JSON LoadResult line.
 */
import net from "node:net";
import { createClient, createLogger } from "../../src/index.js";
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
  let pending: Buffer | undefined;
  socket.on("data", (chunk: Buffer) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let at = 0;
    while (buf.length - at >= 4) {
      const len = buf.readUInt32BE(at);
      if (buf.length - at < 4 + len) break;
      waiting.shift()!(buf.subarray(at + 4, at + 4 + len));
      at += 4 + len;
    }
    if (at < buf.length) pending = buf.subarray(at);
  });
  // Same work per call as an RPC client does at minimum: encode the payload, decode the answer.
  return () =>
    new Promise((resolve) => {
      const body = Buffer.from(JSON.stringify(PAYLOAD));
      const frame = Buffer.allocUnsafe(4 + body.length);
      frame.writeUInt32BE(body.length, 0);
      body.copy(frame, 4);
      waiting.push((rsp) => resolve(JSON.parse(rsp.toString())));
      socket.write(frame);
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
