/**
 * The peer benchmark's output: one JSON line per measurement, and a Markdown report with ratios
 * against Moleculer TCP and the raw floor, the same-run comparisons of issue 20 (each with its
 * target where it has one) and a check of issue 7's targets.
 */
import type { LoadResult } from "../payload.js";

/** One request/response point (median of the repetitions): a load result plus the server's memory. */
export interface RpcPoint extends Omit<LoadResult, "bench" | "calls"> {
  bench: "rpc";
  /** The client's framework in a cross pair (server ← client); absent when it is the server's. */
  client?: string;
  /** The server's RSS right after the measurement. */
  rss_mb: number | null;
}

/** Idle memory and start-up of one framework's server. */
export interface StartupPoint {
  bench: "startup";
  framework: string;
  transport: string;
  client?: string;
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
  client?: string;
  unavailable: string;
}

export interface RunInfo {
  mode: string;
  machine: string;
  load: string;
  versions: string;
  method: string;
}

interface Named {
  framework: string;
  transport: string;
  client?: string;
}

/** The server's framework, or `server ← client` for a cross pair. */
const who = (p: Named): string => (p.client ? `${p.framework} ← ${p.client}` : p.framework);
const name = (p: Named): string => `${who(p)} ${p.transport}`;
const ratio = (a: number | undefined, b: number | undefined): string => (a && b ? `${(a / b).toFixed(2)}` : "—");
const same = (a: Named, b: Named): boolean => a.framework === b.framework && a.transport === b.transport && a.client === b.client;

function rpcTable(points: RpcPoint[]): string[] {
  const lines = [
    "| c | framework (server ← client) | transport | req/s | p50 µs | p99 µs | × Moleculer TCP | × raw | server RSS MB |",
    "|---:|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const p of [...points].sort((a, b) => a.concurrency - b.concurrency)) {
    const at = (framework: string, transport: string): RpcPoint | undefined =>
      points.find((x) => same(x, { framework, transport }) && x.concurrency === p.concurrency);
    const errors = p.errors ? ` (${p.errors} errors)` : "";
    lines.push(
      `| ${p.concurrency} | ${who(p)} | ${p.transport} | ${p.rps}${errors} | ${p.p50_us} | ${p.p99_us} | ` +
        `${ratio(p.rps, at("moleculer", "tcp")?.rps)} | ${ratio(p.rps, at("raw", "tcp")?.rps)} | ${p.rss_mb ?? "—"} |`,
    );
  }
  return lines;
}

function startupTable(points: StartupPoint[]): string[] {
  const lines = ["| framework (server ← client) | transport | idle RSS MB | start → first call ms |", "|---|---|---:|---:|"];
  for (const p of points) lines.push(`| ${who(p)} | ${p.transport} | ${p.rss_mb ?? "—"} | ${p.startup_ms} |`);
  return lines;
}

/** The targets, each with the measured figure and whether it is met ("—" if a side is missing). */
function targets(rpc: RpcPoint[], startup: StartupPoint[]): string[] {
  const at64 = (framework: string, transport: string): RpcPoint | undefined => rpc.find((p) => same(p, { framework, transport }) && p.concurrency === 64);
  const ours = at64("ts-micro", "mux");
  const mol = at64("moleculer", "tcp");
  const raw = at64("raw", "tcp");
  const go = at64("go-micro", "http");
  const own = startup.find((p) => same(p, { framework: "ts-micro", transport: "mux" }));
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
    "## Same-run comparisons (issue 20)",
    "",
    ...comparisons(rpc, startup),
    "",
    "## Targets (issue 7)",
    "",
    ...targets(rpc, startup),
  ];
  if (missing.length) sections.push("", "## Not measured", "", ...missing.map((m) => `- ${name(m)}: ${m.unavailable}`));
  return `${sections.join("\n")}\n`;
}

/** One request/response comparison: ours against a peer at every concurrency both have. */
interface Comparison {
  ours: Named;
  peer: Named;
  /** Only these concurrencies (all measured ones when absent). */
  at?: number[];
  /** The req/s ratio the issue asks for at concurrency c, if any. */
  target?: (c: number) => number | undefined;
  /** The target also asks for a p99 no worse than the peer's. */
  p99?: boolean;
}

const NATS_FLOOR: Named = { framework: "nats.js", transport: "nats" };
const GO_GRPC: Named = { framework: "go-micro", transport: "grpc" };

/** Issue 20's same-run comparisons; rows whose sides were not both measured are left out. */
const COMPARISONS: Comparison[] = [
  {
    ours: { framework: "ts-micro", transport: "nats" },
    peer: { framework: "moleculer", transport: "nats" },
    target: (c) => (c === 1 ? 1 : c >= 64 ? 1.2 : undefined),
    p99: true,
  },
  { ours: { framework: "ts-micro", transport: "nats" }, peer: NATS_FLOOR, target: () => 0.8 },
  { ours: { framework: "moleculer", transport: "nats" }, peer: NATS_FLOOR },
  { ours: { framework: "ts-micro", transport: "mux" }, peer: { framework: "raw", transport: "tcp" }, at: [1], target: () => 0.85 },
  { ours: { framework: "ts-micro", transport: "grpc", client: "go-micro" }, peer: GO_GRPC },
  { ours: { framework: "ts-micro", transport: "grpc" }, peer: GO_GRPC },
  { ours: { framework: "ts-micro", transport: "mux" }, peer: GO_GRPC },
];

const signed = (n: number): string => `${n >= 0 ? "+" : "−"}${Math.abs(n).toFixed(1)}`;
const figures = (p: RpcPoint): string => `${p.rps} (${p.p50_us} / ${p.p99_us})`;

function comparisons(rpc: RpcPoint[], startup: StartupPoint[]): string[] {
  const lines = [
    "req/s (p50 / p99 µs); ratio = req/s ÷ the peer's req/s in this run.",
    "",
    "| c | ours | req/s (p50 / p99) | peer | req/s (p50 / p99) | ratio | target | met |",
    "|---:|---|---:|---|---:|---:|---|---|",
  ];
  for (const cmp of COMPARISONS) {
    for (const ours of rpc.filter((p) => same(p, cmp.ours) && (!cmp.at || cmp.at.includes(p.concurrency)))) {
      const peer = rpc.find((p) => same(p, cmp.peer) && p.concurrency === ours.concurrency);
      if (!peer) continue;
      const goal = cmp.target?.(ours.concurrency);
      const r = ours.rps / peer.rps;
      const target = goal === undefined ? "" : `≥ ${goal} ×${cmp.p99 ? ", p99 ≤ peer's" : ""}`;
      const met = goal === undefined ? "" : r >= goal && (!cmp.p99 || ours.p99_us <= peer.p99_us) ? "yes" : "**no**";
      lines.push(`| ${ours.concurrency} | ${name(ours)} | ${figures(ours)} | ${name(peer)} | ${figures(peer)} | ${r.toFixed(2)} × | ${target} | ${met} |`);
    }
  }
  const own = startup.find((p) => same(p, { framework: "ts-micro", transport: "mux" }));
  const raw = startup.find((p) => same(p, { framework: "raw", transport: "tcp" }));
  if (own && raw) {
    const rss = own.rss_mb !== null && raw.rss_mb !== null ? own.rss_mb - raw.rss_mb : undefined;
    const start = own.startup_ms - raw.startup_ms;
    lines.push(
      "",
      "| case | ts-micro mux | raw tcp | difference | target | met |",
      "|---|---:|---:|---:|---|---|",
      `| idle RSS MB | ${own.rss_mb ?? "—"} | ${raw.rss_mb ?? "—"} | ${rss === undefined ? "—" : signed(rss)} | ≤ +8 MB | ${rss === undefined ? "—" : rss <= 8 ? "yes" : "**no**"} |`,
      `| start → first call ms | ${own.startup_ms} | ${raw.startup_ms} | ${signed(start)} | ≤ +60 ms | ${start <= 60 ? "yes" : "**no**"} |`,
    );
  }
  return lines;
}
