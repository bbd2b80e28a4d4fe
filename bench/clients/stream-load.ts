/**
 * Stream throughput client, run as its own process:
 * `node stream-load.js <raw|ts-micro> <address> <size> <count>`. Prints one JSON line.
 */
import net from "node:net";
import { createClient, createLogger } from "../../src/index.js";

const [framework, address, sizeArg, countArg] = process.argv.slice(2);
const size = Number(sizeArg);
const count = Number(countArg);

async function raw(): Promise<number> {
  const [host, port] = address.split(":");
  const socket = net.connect({ host, port: Number(port), noDelay: true });
  await new Promise((r) => socket.once("connect", r));
  const request = Buffer.from(JSON.stringify({ size, count }));
  const header = Buffer.alloc(4);
  header.writeUInt32BE(request.length, 0);
  socket.write(Buffer.concat([header, request]));
  let received = 0;
  let pending: Buffer | undefined;
  await new Promise<void>((resolve) => {
    socket.on("data", (chunk: Buffer) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = undefined;
      let at = 0;
      while (buf.length - at >= 4) {
        const len = buf.readUInt32BE(at);
        if (buf.length - at < 4 + len) break;
        received++;
        at += 4 + len;
      }
      if (at < buf.length) pending = buf.subarray(at);
      if (received >= count) resolve();
    });
  });
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
