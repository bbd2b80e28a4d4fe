/**
 * Interleaved A/B rounds of ts-micro builds against the raw node:net floor, for changes whose
 * effect is smaller than a busy machine's noise. Each build's echo server (its
 * dist/bench/servers/micro-echo.js, default mux transport) and the raw floor run side by side,
 * paused while not measured; each round runs every build's own load client (its
 * dist/bench/peers/load.js, as `npm run bench:peers` does) once, in alternating order. Prints
 * every run, then the median of each figure: req/s, p50, p99, and CPU µs per call on each side.
 *
 *   node dist/bench/ab.js base=/tmp/base/dist new=dist [--c 1,64] [--rounds 5] [--seconds 2]
 *
 * A build is a compiled checkout (`npx tsc -p . && npm run build:bundle`). The client's CPU is
 * its own over the measured window (builds before that figure existed print "-"); the server's
 * is read from /proc over the whole client run and divided by the calls of that run as estimated
 * from the measured req/s. Server on core 0, clients on core 1, as bench:peers.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchDir, cpuSeconds, median } from "./harness.js";
import type { LoadResult } from "./payload.js";
import { type Proc, spawnPinned } from "./peers/proc.js";

const SERVER_CORE = 0;
const CLIENT_CORE = 1;
const WARMUP_SECONDS = 1;

interface Target {
  name: string;
  /** The load client's peer name (bench/peers/callers.ts). */
  peer: "ts-micro" | "raw";
  dist: string;
  env: Record<string, string>;
  server: Proc;
  address: string;
}

type Run = Omit<LoadResult, "bench" | "framework" | "transport"> & { server_cpu_us?: number };

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
}

async function start(name: string, peer: Target["peer"], dist: string, env: Record<string, string>): Promise<Target> {
  const script = peer === "raw" ? "raw-echo.js" : "micro-echo.js";
  const server = spawnPinned({ file: path.join(dist, "bench", "servers", script), node: true }, env, SERVER_CORE);
  const ready = await server.waitFor(/READY (\S+)/, 20_000);
  server.pause(true);
  // ts-micro clients find their server through the registry (one per build), as users do.
  return { name, peer, dist, env, server, address: peer === "raw" ? ready[1] : "registry" };
}

async function measure(target: Target, concurrency: number, seconds: number): Promise<Run> {
  target.server.pause(false);
  try {
    const pid = target.server.child.pid;
    const before = cpuSeconds(pid) ?? 0;
    const args = ["run", target.peer, target.address, String(concurrency), String(WARMUP_SECONDS), String(seconds)];
    const client = spawnPinned({ file: path.join(target.dist, "bench", "peers", "load.js"), node: true, args }, target.env, CLIENT_CORE);
    const run = JSON.parse(await client.lastLine()) as Run;
    const calls = run.rps * (WARMUP_SECONDS + seconds);
    run.server_cpu_us = Math.round((((cpuSeconds(pid) ?? 0) - before) / Math.max(1, calls)) * 1e7) / 10;
    return run;
  } finally {
    target.server.pause(true);
  }
}

function summary(name: string, runs: Run[]): string {
  const of = (key: keyof Run): string => {
    const values = runs.map((r) => r[key]).filter((v): v is number => typeof v === "number");
    return values.length === 0 ? "-" : String(median(values, (v) => v));
  };
  return `${name.padEnd(16)} req/s ${of("rps")}  p50 ${of("p50_us")} µs  p99 ${of("p99_us")} µs  CPU/call: client ${of("client_cpu_us")} µs, server ${of("server_cpu_us")} µs  (${runs.length} runs)`;
}

async function main(): Promise<void> {
  const builds = process.argv.slice(2).filter((a) => a.includes("="));
  if (builds.length === 0) throw new Error("usage: node dist/bench/ab.js name=<dist dir> [name=<dist dir> …] [--c 1,64] [--rounds 5] [--seconds 2]");
  const concurrencies = option("c", "1,64").split(",").map(Number);
  const rounds = Number(option("rounds", "5"));
  const seconds = Number(option("seconds", "2"));
  const targets = [await start("raw", "raw", path.resolve(benchDir, ".."), {})];
  try {
    for (const build of builds) {
      const [name, dist] = build.split("=");
      const registry = fs.mkdtempSync(path.join(os.tmpdir(), `ts-micro-ab-${name}-`));
      targets.push(await start(name, "ts-micro", path.resolve(dist), { MICRO_REGISTRY_ADDRESS: registry, MICRO_TRANSPORT: "mux" }));
    }
    process.stdout.write(`load average at start: ${os.loadavg()[0].toFixed(2)}\n`);
    for (const concurrency of concurrencies) {
      const runs = new Map<string, Run[]>();
      for (let round = 0; round < rounds; round++) {
        // Alternate the order, so that a drift in the machine's load favours no build.
        for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
          const run = await measure(target, concurrency, seconds);
          runs.set(target.name, [...(runs.get(target.name) ?? []), run]);
          process.stdout.write(`c=${concurrency} round ${round + 1} ${target.name}: ${JSON.stringify(run)} load ${os.loadavg()[0].toFixed(2)}\n`);
        }
      }
      for (const [name, list] of runs) process.stdout.write(`c=${concurrency} ${summary(name, list)}\n`);
    }
  } finally {
    await Promise.all(targets.map((t) => t.server.stop()));
  }
}

await main();
