/**
 * `npm run bench:instances`: what a second instance of a service buys. A Node process serves on
 * one core; `micro run --instances N` runs N processes of a service, N nodes in the registry, and
 * the caller's selector spreads calls over them. This measures the default stack (mux, JSON, the
 * host-local registry) at c=64 with one load client process, in three layouts:
 *
 *   1 instance            server on core 0, load client on core 1 (the layout of `npm run bench`)
 *   2 instances, 1 core   both on core 0, client on core 1: the cost of spreading, with no core to gain
 *   2 instances, 2 cores  one on each core, the client sharing core 1 with the second instance
 *
 * On a 2-core machine the last layout cannot give the servers a core the client does not also
 * need, so it shows less than a larger host would; bench/README.md says how it scales there.
 *
 *   npm run bench:instances              3 repetitions × 5 s per layout (median reported)
 *   npm run bench:instances -- --quick   1 repetition × 2 s
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { median, runLoad, type Server, startServer } from "./harness.js";
import type { LoadResult } from "./payload.js";

const quick = process.argv.includes("--quick");
const repetitions = quick ? 1 : 3;
const seconds = quick ? 2 : 5;
const warmup = quick ? 1 : 2;
const concurrency = 64;
const CLIENT_CORE = 1;

interface Layout {
  label: string;
  /** The core of each instance. */
  cores: number[];
}

const layouts: Layout[] = [
  { label: "1 instance", cores: [0] },
  { label: "2 instances, 1 core", cores: [0, 0] },
  { label: "2 instances, 2 cores", cores: [0, 1] },
];

async function measure(layout: Layout): Promise<LoadResult> {
  // A registry of its own per layout: the client must see exactly these instances.
  const registryDir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-bench-"));
  const env = { MICRO_REGISTRY_ADDRESS: registryDir };
  const servers: Server[] = [];
  try {
    for (const core of layout.cores) servers.push(await startServer("servers/micro-echo.js", env, core));
    const runs: LoadResult[] = [];
    for (let r = 0; r < repetitions; r++) {
      process.stderr.write(`… ${layout.label} run ${r + 1}/${repetitions}\n`);
      runs.push(await runLoad("ts-micro", servers[0]!.address, concurrency, warmup, seconds, env, CLIENT_CORE));
    }
    return median(runs, (x) => x.rps);
  } finally {
    for (const server of servers) server.stop();
    // Give the stopped nodes a moment to deregister before the directory goes.
    await new Promise((resolve) => setTimeout(resolve, 300));
    fs.rmSync(registryDir, { recursive: true, force: true });
  }
}

process.stdout.write(
  `load average before: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(", ")} (${os.cpus().length} cores)\n`,
);
const results: Array<{ layout: Layout; result: LoadResult }> = [];
for (const layout of layouts) {
  const result = await measure(layout);
  results.push({ layout, result });
  process.stdout.write(`${JSON.stringify({ ...result, bench: "instances", layout: layout.label })}\n`);
}
const base = results[0]!.result.rps;
const lines = ["", `| layout (c=${concurrency}) | req/s | p50 µs | p99 µs | × 1 instance |`, "|---|---:|---:|---:|---:|"];
for (const { layout, result } of results)
  lines.push(`| ${layout.label} | ${result.rps} | ${result.p50_us} | ${result.p99_us} | ${(result.rps / base).toFixed(2)} |`);
process.stdout.write(
  `${lines.join("\n")}\nload average after: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(", ")}\n`,
);
