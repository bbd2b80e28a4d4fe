/**
 * `npm run bench:observe`: unary calls at concurrency 64 to the echo service with Prometheus
 * metrics (MICRO_METRICS=1), OpenTelemetry tracing (MICRO_TRACING=1, an SDK with a dropping
 * exporter) and both, against the same service with neither (and with the SDK and its
 * async-hooks context manager registered but ts-micro's tracing off, to tell their costs apart), measured in the same run (the cases
 * take turns). Server and load generator are separate processes on separate cores where taskset
 * exists. Prints one JSON line per case, then a table with the ratio to the plain service.
 * Target (issue #18): metrics + tracing (every span recorded) + the concurrency limit ≥ 0.9 ×
 * plain, the row marked as the target; the row with 10 % of traces sampled
 * (ParentBased(TraceIdRatioBased(0.1))) is an extra, realistic configuration, not the target.
 * The floor-tracer rows replace the SDK by bench/floor-tracer.ts (the least a recording tracer
 * could cost), with and without the context manager; the metrics+limit row is the target without
 * tracing. The load generator's client is not instrumented: the figures are the serving side's cost.
 *
 *   node dist/bench/observe.js            3 repetitions × 5 s per point (median reported)
 *   node dist/bench/observe.js --quick    1 repetition × 2 s per point
 *   ROUNDS=3 BENCH_CASES=ts-micro+metrics+limit,… node dist/bench/observe.js --quick
 *                                          those cases only (and the plain one), 3 repetitions
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { cpuSeconds, median, runLoad, type Server, startServer } from "./harness.js";
import type { LoadResult } from "./payload.js";

const quick = process.argv.includes("--quick");
const repetitions = Number(process.env.ROUNDS ?? (quick ? 1 : 3));
const seconds = quick ? 2 : 5;
const warmup = quick ? 1 : 2;
const concurrency = 64;

/** The concurrency limit on, never reached at c=64: its own per-call cost. */
const LIMIT = { MICRO_SERVER_CONCURRENCY: "256", MICRO_SERVER_QUEUE: "256" };
/** The row the target (≥ 0.9 × plain) refers to. */
const TARGET = "ts-micro+metrics+tracing+limit";

const cases = (
  [
    { name: "ts-micro", observe: {} },
    { name: "ts-micro+metrics", observe: { MICRO_METRICS: "1" } },
    { name: "ts-micro+otel-sdk-only", observe: { BENCH_OTEL_SDK: "1" } },
    { name: "ts-micro+tracing", observe: { MICRO_TRACING: "1" } },
    { name: "ts-micro+metrics+tracing", observe: { MICRO_METRICS: "1", MICRO_TRACING: "1" } },
    { name: "ts-micro+metrics+tracing-no-cm", observe: { MICRO_METRICS: "1", MICRO_TRACING: "1", BENCH_NO_CONTEXT_MANAGER: "1" } },
    { name: TARGET, observe: { MICRO_METRICS: "1", MICRO_TRACING: "1", ...LIMIT } },
    { name: "ts-micro+metrics+tracing(10%)+limit", observe: { MICRO_METRICS: "1", MICRO_TRACING: "1", BENCH_OTEL_RATIO: "0.1", ...LIMIT } },
    { name: "floor-tracer+metrics+tracing+limit", observe: { MICRO_METRICS: "1", MICRO_TRACING: "1", BENCH_FLOOR_TRACER: "1", ...LIMIT } },
    {
      name: "floor-tracer-no-cm+metrics+tracing+limit",
      observe: { MICRO_METRICS: "1", MICRO_TRACING: "1", BENCH_FLOOR_TRACER: "1", BENCH_NO_CONTEXT_MANAGER: "1", ...LIMIT },
    },
    { name: "ts-micro+metrics+limit", observe: { MICRO_METRICS: "1", ...LIMIT } },
  ] satisfies { name: string; observe: Record<string, string> }[] as { name: string; observe: Record<string, string> }[]
).filter((c, i) => i === 0 || !process.env.BENCH_CASES || process.env.BENCH_CASES.split(",").includes(c.name));

// Each server in a registry of its own: all are named bench-echo.
const dirs = cases.map(() => fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-bench-observe-")));
const servers: Server[] = [];
const results: LoadResult[] = [];
/** The server's CPU µs per call, median of the runs, by case. */
const serverCpu: number[] = [];
try {
  for (const [i, { observe }] of cases.entries()) {
    servers.push(await startServer("servers/observed-echo.js", { MICRO_REGISTRY_ADDRESS: dirs[i], ...observe }, 0));
  }
  const runs: LoadResult[][] = cases.map(() => []);
  const cpu: number[][] = cases.map(() => []);
  for (let r = 0; r < repetitions; r++) {
    for (const [i, { name }] of cases.entries()) {
      process.stderr.write(`… ${name} c=${concurrency} run ${r + 1}/${repetitions}\n`);
      const before = cpuSeconds(servers[i].pid);
      const result = await runLoad(name, servers[i].address, concurrency, warmup, seconds, { MICRO_REGISTRY_ADDRESS: dirs[i] }, 1);
      const after = cpuSeconds(servers[i].pid);
      runs[i].push(result);
      // The server's CPU over the run (warm-up included) per call at the measured rate: what a shared
      // machine disturbs far less than req/s.
      if (before !== undefined && after !== undefined) cpu[i].push(((after - before) * 1e6) / (result.rps * (warmup + seconds)));
    }
  }
  for (const [i, caseRuns] of runs.entries()) {
    const result = median(caseRuns, (x) => x.rps);
    results.push(result);
    serverCpu.push(cpu[i].length > 0 ? cpu[i].sort((a, b) => a - b)[Math.floor(cpu[i].length / 2)] : Number.NaN);
    process.stdout.write(`${JSON.stringify({ ...result, server_cpu_us_per_call: Math.round(serverCpu[i] * 10) / 10 })}\n`);
  }
} finally {
  for (const server of servers) server.stop();
}

const plain = results[0];
const lines = [
  "",
  "| concurrency | case | req/s | p50 µs | p99 µs | × plain | server CPU µs/call | × plain by CPU |",
  "|---:|---|---:|---:|---:|---:|---:|---:|",
];
for (const [i, result] of results.entries()) {
  const name = result.framework === TARGET ? `**${TARGET}** (target ≥ 0.90)` : result.framework;
  lines.push(
    `| ${result.concurrency} | ${name} | ${result.rps} | ${result.p50_us} | ${result.p99_us} | ${(result.rps / plain.rps).toFixed(2)} | ${serverCpu[i].toFixed(1)} | ${(serverCpu[0] / serverCpu[i]).toFixed(2)} |`,
  );
}
lines.push(
  "",
  `Target (issue #18): ${TARGET}, every span recorded; the (10%) row samples a tenth of traces, an extra configuration. Load average ${os.loadavg()[0].toFixed(1)}.`,
);
process.stdout.write(`${lines.join("\n")}\n`);
for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
