/**
 * Stream throughput client, run as its own process:
 * `node stream-load.js <raw|ts-micro> <address> <size> <count>`. Prints one JSON line.
 */
import net from "node:net";
import { createClient, createLogger } from "../../src/index.js";
import { frame, readFrames } from "../frames.js";

const [framework, address, sizeArg, countArg] = process.argv.slice(2);
const size = Number(sizeArg);
const count = Number(countArg);

async function raw(): Promise<number> {
  const [host, port] = address.split(":");
  const socket = net.connect({ host, port: Number(port), noDelay: true });
  await new Promise((r) => socket.once("connect", r));
  socket.write(frame(Buffer.from(JSON.stringify({ size, count }))));
  let received = 0;
  await new Promise<void>((resolve) => readFrames(socket, () => ++received >= count && resolve()));
  socket.destroy();
  return received;
}

async function micro(): Promise<number> {
  const client = createClient({ logger: createLogger({ level: "warn" }) });
  let received = 0;
  const request = Buffer.from(JSON.stringify({ size, count }));
  for await (const _ of client.stream("bench-echo", "Bench.Produce", request, { contentType: "application/octet-stream" })) received++;
  client.close();
  return received;
}

const started = process.hrtime.bigint();
const received = framework === "raw" ? await raw() : await micro();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(
  `${JSON.stringify({ bench: "stream", framework, transport: framework === "raw" ? "tcp" : "mux", size, messages: received, msgs_per_s: Math.round(received / seconds), mb_per_s: Math.round((received * size) / seconds / 1e6) })}\n`,
);
process.exit(received === count ? 0 : 1);
