/**
 * `npm run bench`: unary request/response, ts-micro (default stack) against the raw node:net
 * floor, measured in the same run with the same payload, client and server in separate processes.
 * Prints one JSON line per measurement, then a table with the ratio to the floor.
 *
 *   npm run bench              3 repetitions × 5 s per point (median reported)
 *   npm run bench -- --quick   1 repetition × 2 s per point
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { median, runLoad, startServer } from "./harness.js";
import type { LoadResult } from "./payload.js";

const quick = process.argv.includes("--quick");
const repetitions = quick ? 1 : 3;
const seconds = quick ? 2 : 5;
const warmup = quick ? 1 : 2;
const concurrencies = [1, 64];

const registryDir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-bench-"));
const env = { MICRO_REGISTRY_ADDRESS: registryDir };

const servers = {
  raw: await startServer("servers/raw-echo.js", env, 0),
  "ts-micro": await startServer("servers/micro-echo.js", env, 0),
};
const results: LoadResult[] = [];
try {
  for (const concurrency of concurrencies) {
    for (const framework of ["raw", "ts-micro"] as const) {
      const runs: LoadResult[] = [];
      for (let r = 0; r < repetitions; r++) {
        process.stderr.write(`… ${framework} c=${concurrency} run ${r + 1}/${repetitions}\n`);
        runs.push(await runLoad(framework, servers[framework].address, concurrency, warmup, seconds, env, 1));
      }
      const result = median(runs, (x) => x.rps);
      results.push(result);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
  }
} finally {
  for (const server of Object.values(servers)) server.stop();
}

const lines = ["", "| concurrency | framework | req/s | p50 µs | p99 µs | × raw |", "|---:|---|---:|---:|---:|---:|"];
for (const result of results) {
  const floor = results.find((x) => x.framework === "raw" && x.concurrency === result.concurrency)!;
  lines.push(`| ${result.concurrency} | ${result.framework} | ${result.rps} | ${result.p50_us} | ${result.p99_us} | ${(result.rps / floor.rps).toFixed(2)} |`);
}
process.stdout.write(`${lines.join("\n")}\n`);
fs.rmSync(registryDir, { recursive: true, force: true });
