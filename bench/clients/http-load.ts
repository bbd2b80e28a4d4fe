/**
 * HTTP load generator, its own process: `node http-load.js <url> <concurrency> <warmup s> <seconds>`.
 * POSTs the benchmark payload as JSON over keep-alive connections (one per concurrent caller) and
 * prints one JSON LoadResult line.
 */
import http from "node:http";
import { closedLoop, PAYLOAD } from "../payload.js";

const [url, concurrencyArg, warmupArg, secondsArg, label = "http"] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const body = Buffer.from(JSON.stringify(PAYLOAD));
const target = new URL(url);

function call(): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: { "Content-Type": "application/json", "Content-Length": body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => {
          if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks)}`));
          resolve(JSON.parse(Buffer.concat(chunks).toString()));
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

// One call first: a wrong URL fails the run rather than measuring errors.
const first = (await call()) as typeof PAYLOAD;
if (first.id !== PAYLOAD.id) throw new Error(`${url} did not echo the payload: ${JSON.stringify(first)}`);
const result = await closedLoop(call, concurrency, Number(warmupArg), Number(secondsArg));
process.stdout.write(`${JSON.stringify({ bench: "gateway", framework: label, transport: "http", ...result })}\n`);
process.exit(0);
