/**
 * Server-stream throughput: messages/s and MB/s for small (64 B) and large (64 KiB) messages
 * between two processes, ts-micro against a raw node:net stream in the same run. Messages are
 * application/octet-stream so the figure is the transport's, not a codec's.
 *
 *   node dist/bench/stream.js [--quick]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { median, runClient, startServer } from "./harness.js";

interface StreamResult {
  bench: string;
  framework: string;
  transport: string;
  size: number;
  messages: number;
  msgs_per_s: number;
  mb_per_s: number;
}

const quick = process.argv.includes("--quick");
const repetitions = quick ? 1 : 3;
const cases = [
  { size: 64, count: quick ? 300_000 : 1_000_000 },
  { size: 64 * 1024, count: quick ? 5_000 : 16_384 },
];

const registryDir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-bench-"));
const env = { MICRO_REGISTRY_ADDRESS: registryDir };
const servers = {
  raw: await startServer("servers/raw-stream.js", env, 0),
  "ts-micro": await startServer("servers/micro-echo.js", env, 0),
};
const results: StreamResult[] = [];
try {
  for (const { size, count } of cases) {
    for (const framework of ["raw", "ts-micro"] as const) {
      const runs: StreamResult[] = [];
      for (let r = 0; r < repetitions; r++) {
        process.stderr.write(`… stream ${framework} ${size} B × ${count} run ${r + 1}/${repetitions}\n`);
        runs.push(await runClient<StreamResult>("clients/stream-load.js", [framework, servers[framework].address, size, count], env, 1));
      }
      const result = median(runs, (x) => x.msgs_per_s);
      results.push(result);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
  }
} finally {
  for (const server of Object.values(servers)) server.stop();
  fs.rmSync(registryDir, { recursive: true, force: true });
}

const lines = ["", "| message | framework | msgs/s | MB/s | × raw |", "|---:|---|---:|---:|---:|"];
for (const result of results) {
  const floor = results.find((x) => x.framework === "raw" && x.size === result.size)!;
  lines.push(`| ${result.size} B | ${result.framework} | ${result.msgs_per_s} | ${result.mb_per_s} | ${(result.msgs_per_s / floor.msgs_per_s).toFixed(2)} |`);
}
process.stdout.write(`${lines.join("\n")}\n`);
