/**
 * `npm run bench:grpc`: ts-micro over gRPC next to plain gRPC stacks in the same run, with the
 * same .proto (bench/grpc.proto) and payload, server and client in separate processes pinned to
 * separate cores. Pairs (server ← client):
 *
 *   grpc-js ← grpc-js    @grpc/grpc-js server and client: the baseline
 *   micro ← micro        ts-micro with server: "grpc", ts-micro client (grpc:// address)
 *   micro ← grpc-js      the ts-micro gRPC server, a grpc-js client
 *   grpc-js ← micro      a grpc-js server, the ts-micro gRPC client
 *   connect ← connect    @connectrpc/connect-node server and gRPC client (the other library)
 *   mux ← micro-mux      ts-micro on its default transport (mux, JSON): what gRPC costs
 *   micro ← micro-json   ts-micro over gRPC with application/grpc+json
 *   go ← go              Go Micro v5 server/grpc and client/grpc (interop/grpcecho, interop/grpccall),
 *                        JSON (Go Micro's gRPC codecs need generated types for protobuf)
 *   micro ← go           the ts-micro gRPC server, Go Micro's gRPC client (JSON)
 *
 * Unary at c=1, 64, 256: req/s and p99; then a server stream of 50 000 messages: msgs/s.
 * Prints one JSON line per point, then tables of ratios to grpc-js ← grpc-js. `--quick` shortens it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildGoPrograms } from "../test/interop/go.js";
import { runClient, type Server, startServer } from "./harness.js";
import type { LoadResult } from "./payload.js";

const quick = process.argv.includes("--quick");
const seconds = quick ? 2 : 4;
const warmup = 1;
const concurrencies = [1, 64, 256];
const STREAM_COUNT = quick ? 10_000 : 50_000;
const registryDir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-bench-grpc-"));
const env = { MICRO_REGISTRY_ADDRESS: registryDir };

const PAIRS = [
  { pair: "grpc-js ← grpc-js", server: "grpc-js", client: "grpc-js" },
  { pair: "micro ← micro", server: "micro", client: "micro" },
  { pair: "micro ← grpc-js", server: "micro", client: "grpc-js" },
  { pair: "grpc-js ← micro", server: "grpc-js", client: "micro" },
  { pair: "connect ← connect", server: "connect", client: "connect" },
  { pair: "mux ← micro-mux", server: "mux", client: "micro-mux" },
  { pair: "micro ← micro-json", server: "micro", client: "micro-json" },
  { pair: "go ← go", server: "go", client: "go" },
  { pair: "micro ← go", server: "micro", client: "go" },
] as const;
const BASELINE = PAIRS[0].pair;

const goDir = await buildGoPrograms();
const hasTaskset = spawnSync("taskset", ["--version"]).status === 0;
const goEnv = { MICRO_REGISTRY: "memory", MICRO_SERVER_ADDRESS: "127.0.0.1:0", MICRO_LOG_LEVEL: "error" };

/** Spawns a Go program pinned to `core`. */
function spawnGo(program: string, core: number, extra: Record<string, string>): ChildProcess {
  const binary = path.join(goDir, program);
  const [cmd, args] = hasTaskset ? ["taskset", ["-c", String(core), binary]] : [binary, []];
  return spawn(cmd, args as string[], { env: { ...process.env, ...goEnv, ...extra }, stdio: ["ignore", "pipe", "ignore"] });
}

function startGoServer(): Promise<Server> {
  const child = spawnGo("grpcecho", 0, { INTEROP_NAME: "bench" });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const match = /"started":"([^"]+)"/.exec(out);
      if (match) resolve({ address: match[1], stop: () => child.kill("SIGTERM") });
    });
    child.once("exit", (code) => reject(new Error(`interop/grpcecho exited with ${code}`)));
  });
}

/** Go Micro's gRPC client in closed loops against `address` (interop/grpccall, bench mode). */
function goLoad(address: string, concurrency: number): Promise<LoadResult> {
  const child = spawnGo("grpccall", 1, {
    INTEROP_MODE: "bench",
    INTEROP_TARGET: "bench",
    INTEROP_ADDRESS: address,
    INTEROP_CONCURRENCY: String(concurrency),
    INTEROP_WARMUP_MS: String(warmup * 1000),
    INTEROP_DURATION_MS: String(seconds * 1000),
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.once("exit", (code) => {
      try {
        const r = JSON.parse(out.trim().split("\n").pop()!) as { calls: number; errors: number; rps: number; p50_us?: number; p99_us?: number };
        resolve({
          bench: "grpc",
          framework: "go-micro",
          transport: "grpc",
          concurrency,
          rps: r.rps,
          p50_us: r.p50_us ?? 0,
          p99_us: r.p99_us ?? 0,
          calls: r.calls,
          errors: r.errors,
        });
      } catch {
        reject(new Error(`interop/grpccall exited with ${code}: ${out}`));
      }
    });
  });
}

function start(kind: string): Promise<Server> {
  if (kind === "go") return startGoServer();
  return kind === "mux" ? startServer("servers/micro-echo.js", env, 0) : startServer("servers/grpc-echo.js", { ...env, GRPC_KIND: kind }, 0);
}

function load(client: string, address: string, concurrency: number): Promise<LoadResult> {
  if (client === "go") return goLoad(address, concurrency);
  return runClient<LoadResult>("clients/grpc-load.js", [client, address, "unary", concurrency, warmup, seconds], env, 1);
}

interface Point extends LoadResult {
  pair: string;
}
interface StreamPoint {
  pair: string;
  msgs_per_s: number;
}

const unary: Point[] = [];
const streams: StreamPoint[] = [];
for (const { pair, server: serverKind, client } of PAIRS) {
  const server = await start(serverKind);
  try {
    for (const c of concurrencies) {
      const result = await load(client, server.address, c);
      const point = { pair, ...result };
      unary.push(point);
      process.stdout.write(`${JSON.stringify(point)}\n`);
    }
    if (serverKind !== "mux" && serverKind !== "go" && client !== "go" && client !== "micro-json") {
      const result = await runClient<{ msgs_per_s: number }>("clients/grpc-load.js", [client, server.address, "stream", STREAM_COUNT], env, 1);
      streams.push({ pair, msgs_per_s: result.msgs_per_s });
      process.stdout.write(`${JSON.stringify({ pair, bench: "grpc-stream", ...result })}\n`);
    }
  } finally {
    server.stop();
  }
}
fs.rmSync(registryDir, { recursive: true, force: true });

const ratio = (value: number, base: number | undefined): string => (base ? `${(value / base).toFixed(2)}x` : "-");
process.stdout.write("\nunary (ratio to grpc-js ← grpc-js at the same concurrency)\n");
process.stdout.write(`${"pair".padEnd(20)} ${"c".padStart(4)} ${"req/s".padStart(8)} ${"ratio".padStart(7)} ${"p99 µs".padStart(8)} ${"errors".padStart(7)}\n`);
for (const p of unary) {
  const base = unary.find((b) => b.pair === BASELINE && b.concurrency === p.concurrency);
  process.stdout.write(
    `${p.pair.padEnd(20)} ${String(p.concurrency).padStart(4)} ${String(p.rps).padStart(8)} ${ratio(p.rps, base?.rps).padStart(7)} ${String(p.p99_us).padStart(8)} ${String(p.errors).padStart(7)}\n`,
  );
}
process.stdout.write(`\nserver stream of ${STREAM_COUNT} messages (ratio to grpc-js ← grpc-js)\n`);
const baseStream = streams.find((s) => s.pair === BASELINE)?.msgs_per_s;
for (const s of streams)
  process.stdout.write(`${s.pair.padEnd(20)} ${String(s.msgs_per_s).padStart(9)} msgs/s ${ratio(s.msgs_per_s, baseStream).padStart(7)}\n`);
