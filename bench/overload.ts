/**
 * `npm run bench:overload`: load shedding under overload, and what the concurrency limit costs.
 *
 * 1. A slow server (4 calls at once, 4 queued, 50 ms each: ~80 calls/s) is offered ~10× that,
 *    open loop, for 10 s: calls completed and shed, p50/p99 of each (the target: shed
 *    calls answered in under 5 ms at p99), the server's RSS before, at its peak and after.
 *    The same offer to the same server without a limit, as the baseline: it queues everything.
 * 2. The echo benchmark at c=64 with the concurrency limit on (256 at once, 256 queued: never
 *    reached, so this is the cost of the wrapper) against off, in the same run. Target ≥ 0.9×.
 *
 *   npm run bench:overload              3 × 5 s per echo point
 *   npm run bench:overload -- --quick   1 × 2 s per echo point, 5 s of overload
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { median, runClient, runLoad, startServer } from "./harness.js";
import type { LoadResult } from "./payload.js";

const quick = process.argv.includes("--quick");
const repetitions = quick ? 1 : 3;
const seconds = quick ? 2 : 5;
const overloadSeconds = quick ? 5 : 10;

interface OverloadResult {
  offered_per_s: number;
  completed: number;
  shed: number;
  errors: number;
  ok_p50_ms: number;
  ok_p99_ms: number;
  shed_p50_ms: number;
  shed_p99_ms: number;
  rss_before_mb: number;
  rss_peak_mb: number;
  rss_after_mb: number;
}

async function overload(label: string, limits: Record<string, string>): Promise<OverloadResult & { server: string }> {
  const registry = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-bench-"));
  const env = { MICRO_REGISTRY_ADDRESS: registry };
  const server = await startServer("servers/slow.js", { ...env, ...limits, SLOW_MS: "50" }, 0);
  try {
    process.stderr.write(`… overload, ${label}\n`);
    const result = await runClient<OverloadResult>("clients/overload-load.js", [800, overloadSeconds], env, 1);
    return { server: label, ...result };
  } finally {
    server.stop();
    fs.rmSync(registry, { recursive: true, force: true });
  }
}

async function echo(label: string, limits: Record<string, string>): Promise<LoadResult> {
  const registry = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-bench-"));
  const env = { MICRO_REGISTRY_ADDRESS: registry };
  const server = await startServer("servers/micro-echo.js", { ...env, ...limits }, 0);
  try {
    const runs: LoadResult[] = [];
    for (let r = 0; r < repetitions; r++) {
      process.stderr.write(`… echo c=64, ${label}, run ${r + 1}/${repetitions}\n`);
      runs.push(await runLoad("ts-micro", server.address, 64, 1, seconds, env, 1));
    }
    return { ...median(runs, (x) => x.rps), framework: label };
  } finally {
    server.stop();
    fs.rmSync(registry, { recursive: true, force: true });
  }
}

const shedding = await overload("limit 4 + queue 4", { MICRO_SERVER_CONCURRENCY: "4", MICRO_SERVER_QUEUE: "4" });
process.stdout.write(`${JSON.stringify(shedding)}\n`);
const unbounded = await overload("no limit", {});
process.stdout.write(`${JSON.stringify(unbounded)}\n`);
const off = await echo("limit off", {});
process.stdout.write(`${JSON.stringify(off)}\n`);
const on = await echo("limit on (256 + 256)", { MICRO_SERVER_CONCURRENCY: "256", MICRO_SERVER_QUEUE: "256" });
process.stdout.write(`${JSON.stringify(on)}\n`);

const lines = [
  "",
  `Overload: ~10x capacity (800 calls/s offered to ~80/s) for ${overloadSeconds} s, after 1 s of the same offer unrecorded (warm-up)`,
  "| server | completed | shed | other errors | ok p50 ms | ok p99 ms | shed p50 ms | shed p99 ms | RSS before / peak / after MiB |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---|",
];
for (const r of [shedding, unbounded]) {
  lines.push(
    `| ${r.server} | ${r.completed} | ${r.shed} | ${r.errors} | ${r.ok_p50_ms} | ${r.ok_p99_ms} | ${r.shed_p50_ms} | ${r.shed_p99_ms} | ${r.rss_before_mb} / ${r.rss_peak_mb} / ${r.rss_after_mb} |`,
  );
}
lines.push("", "Echo at c=64: the concurrency limit's cost", "| server | req/s | p50 µs | p99 µs | × off |", "|---|---:|---:|---:|---:|");
for (const r of [off, on]) lines.push(`| ${r.framework} | ${r.rps} | ${r.p50_us} | ${r.p99_us} | ${(r.rps / off.rps).toFixed(2)} |`);
process.stdout.write(`${lines.join("\n")}\n`);
