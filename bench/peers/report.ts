/**
 * The peer benchmark's output: one JSON line per measurement, and a Markdown report with ratios
 * against Moleculer TCP and the raw floor plus a check of the targets.
 */
import type { LoadResult } from "../payload.js";

/** One request/response point (median of the repetitions): a load result plus the server's memory. */
export interface RpcPoint extends Omit<LoadResult, "bench" | "calls"> {
  bench: "rpc";
  /** The server's RSS right after the measurement. */
  rss_mb: number | null;
}

/** Idle memory and start-up of one framework's server. */
export interface StartupPoint {
  bench: "startup";
  framework: string;
  transport: string;
  concurrency: null;
  rps: null;
  p50_us: null;
  p99_us: null;
  /** RSS of the idle server, 1 s after it served its first call. */
  rss_mb: number | null;
  /** Server process start → first successful call from another process (median). */
  startup_ms: number;
}

export interface Unavailable {
  bench: "peers";
  framework: string;
  transport: string;
  unavailable: string;
}

export interface RunInfo {
  mode: string;
  machine: string;
  load: string;
  versions: string;
  method: string;
}

const name = (p: { framework: string; transport: string }): string => `${p.framework} ${p.transport}`;
const ratio = (a: number | undefined, b: number | undefined): string => (a && b ? `${(a / b).toFixed(2)}` : "—");

function rpcTable(points: RpcPoint[]): string[] {
  const lines = [
    "| c | framework | transport | req/s | p50 µs | p99 µs | × Moleculer TCP | × raw | server RSS MB |",
    "|---:|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const p of [...points].sort((a, b) => a.concurrency - b.concurrency)) {
    const at = (framework: string, transport: string): RpcPoint | undefined =>
      points.find((x) => x.framework === framework && x.transport === transport && x.concurrency === p.concurrency);
    const errors = p.errors ? ` (${p.errors} errors)` : "";
    lines.push(
      `| ${p.concurrency} | ${p.framework} | ${p.transport} | ${p.rps}${errors} | ${p.p50_us} | ${p.p99_us} | ` +
        `${ratio(p.rps, at("moleculer", "tcp")?.rps)} | ${ratio(p.rps, at("raw", "tcp")?.rps)} | ${p.rss_mb ?? "—"} |`,
    );
  }
  return lines;
}

function startupTable(points: StartupPoint[]): string[] {
  const lines = ["| framework | transport | idle RSS MB | start → first call ms |", "|---|---|---:|---:|"];
  for (const p of points) lines.push(`| ${p.framework} | ${p.transport} | ${p.rss_mb ?? "—"} | ${p.startup_ms} |`);
  return lines;
}

/** The targets, each with the measured figure and whether it is met ("—" if a side is missing). */
function targets(rpc: RpcPoint[], startup: StartupPoint[]): string[] {
  const at64 = (framework: string, transport: string): RpcPoint | undefined =>
    rpc.find((p) => p.framework === framework && p.transport === transport && p.concurrency === 64);
  const ours = at64("ts-micro", "mux");
  const mol = at64("moleculer", "tcp");
  const raw = at64("raw", "tcp");
  const go = at64("go-micro", "http");
  const own = startup.find((p) => p.framework === "ts-micro" && p.transport === "mux");
  const row = (target: string, value: number | undefined, unit: string, ok: (v: number) => boolean): string =>
    value === undefined ? `| ${target} | — | — |` : `| ${target} | ${value.toFixed(2)}${unit} | ${ok(value) ? "yes" : "**no**"} |`;
  const div = (a?: number, b?: number): number | undefined => (a !== undefined && b ? a / b : undefined);
  return [
    "| target | measured | met |",
    "|---|---:|---|",
    row("ts-micro req/s ≥ 2 × Moleculer TCP (c=64)", div(ours?.rps, mol?.rps), " ×", (v) => v >= 2),
    row("ts-micro p99 ≤ 0.5 × Moleculer TCP (c=64)", div(ours?.p99_us, mol?.p99_us), " ×", (v) => v <= 0.5),
    row("ts-micro req/s ≥ 0.8 × raw floor (c=64)", div(ours?.rps, raw?.rps), " ×", (v) => v >= 0.8),
    row("ts-micro req/s ≥ Go Micro (c=64)", div(ours?.rps, go?.rps), " ×", (v) => v >= 1),
    row("ts-micro idle RSS ≤ 60 MB", own?.rss_mb ?? undefined, " MB", (v) => v <= 60),
    row("ts-micro start → first served call ≤ 300 ms", own?.startup_ms, " ms", (v) => v <= 300),
  ];
}

export function markdown(info: RunInfo, rpc: RpcPoint[], startup: StartupPoint[], missing: Unavailable[]): string {
  const sections = [
    "# Peer benchmark: latest run",
    "",
    `${info.mode}. ${info.machine}. ${info.versions}. ${info.load}`,
    "",
    info.method,
    "",
    "## Request/response",
    "",
    ...rpcTable(rpc),
    "",
    "## Memory and start-up",
    "",
    ...startupTable(startup),
    "",
    "## Targets (issue 7)",
    "",
    ...targets(rpc, startup),
  ];
  if (missing.length) sections.push("", "## Not measured", "", ...missing.map((m) => `- ${name(m)}: ${m.unavailable}`));
  return `${sections.join("\n")}\n`;
}
