/**
 * `npm run bench:startup`: what a service pays before its first call, import by import.
 *
 * Each row imports one module in a fresh Node process (so nothing is cached between rows) and
 * reports, as the median of several processes:
 * - import ms: wall time of the `import()` itself, measured inside the child;
 * - RSS MB: the child's resident memory after the import and a garbage collection, next to a
 *   child that imports nothing (the floor row, `node:net`).
 * The last rows start a default service (mux, local registry, JSON logs) and a raw node:net
 * server, and report start-up time and idle RSS 1 s later, as the peers benchmark does. The
 * service starts once from dist/src (the compiled modules the tests run) and once from the
 * package's entry (dist/bundle, what `import "ts-micro"` loads; `npm run build:bundle`).
 *
 * Rows are cumulative in practice: later modules import earlier ones. The difference between a
 * row and the one above says what that layer adds.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchDir } from "./harness.js";

const quick = process.argv.includes("--quick");
const SAMPLES = quick ? 3 : 7;
const src = path.join(benchDir, "..", "src");
const packageEntry = path.join(benchDir, "..", "bundle", "index.js");

/** Modules in the order a service loads them, from the framework's bottom layer up. */
const MODULES: Array<[label: string, specifier: string]> = [
  ["node:net (floor)", "node:net"],
  ["errors + metadata", path.join(src, "metadata", "metadata.js")],
  ["codecs (json, msgpack, proto)", path.join(src, "codec", "index.js")],
  ["logger", path.join(src, "logger", "logger.js")],
  ["mux transport", path.join(src, "transport", "mux", "mux.js")],
  ["local registry + cache", path.join(src, "registry", "cache.js")],
  ["server", path.join(src, "server", "server.js")],
  ["client", path.join(src, "client", "client.js")],
  ["plugin resolution (every plugin)", path.join(src, "service", "resolve.js")],
  ["service", path.join(src, "service", "service.js")],
  ["ts-micro (root export, dist/src)", path.join(src, "index.js")],
  ["ts-micro (package entry, dist/bundle)", packageEntry],
];

/** The child: import, GC, print {ms, rss}. */
const IMPORT_CHILD = `
const t0 = performance.now();
await import(process.argv[1]);
const ms = performance.now() - t0;
globalThis.gc();
setTimeout(() => { console.log(JSON.stringify({ ms, rss: process.memoryUsage().rss / 1048576 })); process.exit(0); }, 200);
`;

/** The child: start a default service (or a raw server), then report start ms and RSS 1 s later. */
const SERVICE_CHILD = `
const kind = process.argv[1];
const t0 = performance.now();
if (kind === "raw") {
  const net = await import("node:net");
  await new Promise((resolve) => net.createServer((s) => s.pipe(s)).listen(0, "127.0.0.1", resolve));
} else {
  const { createService } = await import(kind);
  const service = createService({ name: "startup-bench" });
  service.handle(new (class Bench { async Echo(req) { return req; } })());
  await service.start();
}
const ms = performance.now() - t0;
setTimeout(() => { console.log(JSON.stringify({ ms, rss: process.memoryUsage().rss / 1048576 })); process.exit(0); }, 1000);
`;

interface Sample {
  ms: number;
  rss: number;
}

function sample(script: string, arg: string, env: Record<string, string> = {}): Sample {
  const result = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script, arg], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  const line = result.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as Sample;
  } catch {
    throw new Error(`child for ${arg} exited with ${result.status}: ${result.stderr.slice(0, 500)}`);
  }
}

function medianOf(samples: Sample[], key: keyof Sample): number {
  const sorted = samples.map((s) => s[key]).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function measure(script: string, arg: string, env?: Record<string, string>): Sample {
  const samples = Array.from({ length: SAMPLES }, () => sample(script, arg, env));
  return { ms: medianOf(samples, "ms"), rss: medianOf(samples, "rss") };
}

process.stderr.write(`startup: ${MODULES.length + 2} rows × ${SAMPLES} processes (load average ${os.loadavg()[0].toFixed(1)})\n`);
console.log("| import | ms | RSS MB | + RSS over floor |");
console.log("|---|---:|---:|---:|");
let floor: Sample | undefined;
for (const [label, specifier] of MODULES) {
  const m = measure(IMPORT_CHILD, specifier);
  floor ??= m;
  console.log(`| ${label} | ${m.ms.toFixed(1)} | ${m.rss.toFixed(1)} | ${(m.rss - floor.rss).toFixed(1)} |`);
}

const registry = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-startup-"));
const quiet = { MICRO_REGISTRY_ADDRESS: registry, MICRO_LOG_FORMAT: "json" };
const raw = measure(SERVICE_CHILD, "raw");
const service = measure(SERVICE_CHILD, path.join(src, "index.js"), quiet);
const packaged = measure(SERVICE_CHILD, packageEntry, quiet);
fs.rmSync(registry, { recursive: true, force: true });
console.log("");
console.log("| process | start ms (import + listen/register) | idle RSS MB |");
console.log("|---|---:|---:|");
console.log(`| raw node:net server | ${raw.ms.toFixed(1)} | ${raw.rss.toFixed(1)} |`);
console.log(`| default service (dist/src) | ${service.ms.toFixed(1)} | ${service.rss.toFixed(1)} |`);
console.log(`| default service (package entry) | ${packaged.ms.toFixed(1)} | ${packaged.rss.toFixed(1)} |`);
console.log(`| package entry − raw | +${(packaged.ms - raw.ms).toFixed(1)} | +${(packaged.rss - raw.rss).toFixed(1)} |`);
