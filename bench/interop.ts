/**
 * `npm run bench:interop`: ts-micro next to Go Micro v5 in the same run, same payload
 * (`{"id":42,"name":"hello","tags":["a","b"],"ok":true}`), concurrency 1 and 64, server and
 * client in separate processes on separate cores. Pairs (server ← client):
 *
 *   go ← go            Go Micro server, Go Micro client (HTTP transport): the baseline
 *   ts ← ts            ts-micro server and client on default settings (mux transport)
 *   ts-http ← go       ts-micro on MICRO_TRANSPORT=http, Go Micro client
 *   ts-mux-port ← go   ts-micro on default settings (mux port answering HTTP), Go Micro client
 *   go ← ts-http       Go Micro server, ts-micro client on the HTTP transport
 *
 * Prints one JSON line per point, then a table of ratios to go ← go. `--quick` shortens it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildGoPrograms } from "../test/interop/go.js";
import { benchDir, runClient, runLoad, type Server, startServer } from "./harness.js";
import type { LoadResult } from "./payload.js";

const quick = process.argv.includes("--quick");
const seconds = quick ? 2 : 4;
const warmup = 1;
const concurrencies = [1, 64];
const hasTaskset = spawnSync("taskset", ["--version"]).status === 0;
const registryDir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-bench-"));
const env = { MICRO_REGISTRY_ADDRESS: registryDir };
const goEnv = { MICRO_REGISTRY: "memory", MICRO_SERVER_ADDRESS: "127.0.0.1:0", MICRO_LOG_LEVEL: "error" };

interface Point extends LoadResult {
  pair: string;
}

const goDir = await buildGoPrograms();

/** Starts a Go Micro program pinned to `core`, resolving with its listen address. */
function startGoServer(core: number): Promise<Server> {
  const binary = path.join(goDir, "helloworld");
  const [cmd, args] = hasTaskset ? ["taskset", ["-c", String(core), binary]] : [binary, []];
  const child: ChildProcess = spawn(cmd, args as string[], { env: { ...process.env, ...goEnv }, stdio: ["ignore", "pipe", "ignore"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const match = /"started":"([^"]+)"/.exec(out);
      if (match) resolve({ address: match[1].replace(/^\[::\]|^0\.0\.0\.0/, "127.0.0.1"), stop: () => child.kill("SIGTERM") });
    });
    child.once("exit", (code) => reject(new Error(`Go Micro helloworld exited with ${code}`)));
  });
}

/** The Go Micro client's closed loop against `address`. */
function goLoad(address: string, service: string, concurrency: number): Promise<LoadResult> {
  const binary = path.join(goDir, "client");
  const [cmd, args] = hasTaskset ? ["taskset", ["-c", "1", binary]] : [binary, []];
  const childEnv = {
    ...process.env,
    ...goEnv,
    INTEROP_MODE: "bench",
    INTEROP_SERVICE: service,
    INTEROP_ADDRESS: address,
    INTEROP_CONCURRENCY: String(concurrency),
    INTEROP_WARMUP_MS: String(warmup * 1000),
    INTEROP_DURATION_MS: String(seconds * 1000),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args as string[], { env: childEnv, stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.once("exit", (code) => {
      try {
        const r = JSON.parse(out.trim().split("\n").pop()!) as { calls: number; errors: number; rps: number; p50_us?: number; p99_us?: number };
        resolve({
          bench: "interop",
          framework: "go-micro",
          transport: "http",
          concurrency,
          rps: r.rps,
          p50_us: r.p50_us ?? 0,
          p99_us: r.p99_us ?? 0,
          calls: r.calls,
          errors: r.errors,
        });
      } catch {
        reject(new Error(`Go Micro client exited with ${code}: ${out}`));
      }
    });
  });
}

const helloworld = path.relative(benchDir, path.join(benchDir, "..", "test", "interop", "ts-helloworld.js"));
const servers = {
  go: await startGoServer(0),
  ts: await startServer("servers/micro-echo.js", env, 0),
  tsHttp: await startServer(helloworld, { ...env, MICRO_TRANSPORT: "http", INTEROP_NAME: "tshello" }, 0),
  tsMuxPort: await startServer(helloworld, { ...env, INTEROP_NAME: "tshello" }, 0),
};

const pairs: Array<{ pair: string; run: (concurrency: number) => Promise<LoadResult> }> = [
  { pair: "go ← go", run: (c) => goLoad(servers.go.address, "helloworld", c) },
  { pair: "ts ← ts", run: (c) => runLoad("ts-micro", servers.ts.address, c, warmup, seconds, env, 1) },
  { pair: "ts-http ← go", run: (c) => goLoad(servers.tsHttp.address, "tshello", c) },
  { pair: "ts-mux-port ← go", run: (c) => goLoad(servers.tsMuxPort.address, "tshello", c) },
  { pair: "go ← ts-http", run: (c) => runClient<LoadResult>("clients/interop-load.js", [servers.go.address, c, warmup, seconds], env, 1) },
];

const points: Point[] = [];
try {
  for (const concurrency of concurrencies) {
    for (const { pair, run } of pairs) {
      process.stderr.write(`… ${pair} c=${concurrency}\n`);
      const point = { ...(await run(concurrency)), pair };
      points.push(point);
      process.stdout.write(`${JSON.stringify(point)}\n`);
    }
  }
} finally {
  for (const server of Object.values(servers)) server.stop();
  fs.rmSync(registryDir, { recursive: true, force: true });
}

const lines = ["", "| concurrency | server ← client | req/s | p50 µs | p99 µs | errors | × go ← go |", "|---:|---|---:|---:|---:|---:|---:|"];
for (const point of points) {
  const base = points.find((p) => p.pair === "go ← go" && p.concurrency === point.concurrency)!;
  lines.push(
    `| ${point.concurrency} | ${point.pair} | ${point.rps} | ${point.p50_us} | ${point.p99_us} | ${point.errors} | ${(point.rps / base.rps).toFixed(2)} |`,
  );
}
process.stdout.write(`${lines.join("\n")}\n`);
