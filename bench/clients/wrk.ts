/**
 * HTTP load from wrk (a load generator written in C; Debian's `wrk` package, `apt-get install -y
 * wrk`): POSTs the benchmark payload as JSON over `concurrency` keep-alive connections from one
 * thread, pinned to a core of its own. A Node HTTP client spends more CPU per request than the
 * Node server it measures, so with one it is the client that sets the rate; wrk does not.
 *
 * wrk's Lua `done` hook prints the summary as one JSON line (latencies in µs, straight from its
 * histogram), so nothing depends on the layout of wrk's human-readable report.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type LoadResult, PAYLOAD } from "../payload.js";

const hasTaskset = spawnSync("taskset", ["--version"]).status === 0;

/** Fails with how to get wrk when it is not installed. */
export function requireWrk(): void {
  if (spawnSync("wrk", ["--version"]).error) {
    throw new Error("this benchmark needs wrk (a C HTTP load generator): apt-get install -y wrk (Debian/Ubuntu), brew install wrk (macOS)");
  }
}

const SCRIPT = `
wrk.method = "POST"
wrk.body = ${JSON.stringify(JSON.stringify(PAYLOAD))}
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\n{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"socket_errors":%d,"status_errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
`;

interface WrkSummary {
  requests: number;
  duration_us: number;
  p50_us: number;
  p99_us: number;
  socket_errors: number;
  status_errors: number;
}

/** One wrk run of `seconds` against `url`. */
export async function wrk(url: string, concurrency: number, seconds: number, core?: number): Promise<WrkSummary> {
  const script = path.join(os.tmpdir(), `ts-micro-bench-wrk-${process.pid}.lua`);
  fs.writeFileSync(script, SCRIPT);
  const argv = ["wrk", "-t1", `-c${concurrency}`, `-d${seconds}s`, "--timeout", "10s", "-s", script, url];
  const [cmd, ...args] = hasTaskset && core !== undefined ? ["taskset", "-c", String(core), ...argv] : argv;
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const line = out.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as WrkSummary;
  } catch {
    throw new Error(`wrk against ${url} exited with ${code} and printed ${JSON.stringify(out)}`);
  }
}

/** Checks that `url` echoes the payload (a wrong URL fails the run rather than measuring errors). */
export async function checkEcho(url: string): Promise<void> {
  const response = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(PAYLOAD) });
  const text = await response.text();
  if (response.status !== 200 || (JSON.parse(text) as typeof PAYLOAD).id !== PAYLOAD.id) {
    throw new Error(`${url} did not echo the payload: ${response.status} ${text}`);
  }
}

/** A wrk summary as the LoadResult every benchmark reports. */
export function loadResult(summary: WrkSummary, label: string, concurrency: number): LoadResult {
  return {
    bench: "gateway",
    framework: label,
    transport: "http (wrk)",
    concurrency,
    rps: Math.round(summary.requests / (summary.duration_us / 1e6)),
    p50_us: summary.p50_us,
    p99_us: summary.p99_us,
    calls: summary.requests,
    errors: summary.socket_errors + summary.status_errors,
  };
}
