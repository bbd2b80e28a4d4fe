/**
 * The serving side's per-call cost of metrics, tracing and the concurrency limit, without a
 * network: `Server.serve` is driven in one process, 64 calls at a time, with the wrappers a
 * service gets from MICRO_METRICS / MICRO_TRACING / MICRO_SERVER_CONCURRENCY (an OpenTelemetry
 * SDK as a production user sets it up: BatchSpanProcessor, here with an exporter that drops the
 * batches, and the async-hooks context manager, as observed-echo.ts registers). The tracing
 * cases tell the parts apart:
 *   tracing-no-sdk      ts-micro's wrapper with no SDK registered (the API's no-op tracer)
 *   tracing-sdk-off     the SDK registered with a sampler that records nothing (AlwaysOff)
 *   tracing             the SDK recording every span (AlwaysOn, the default)
 *   tracing-ratio-0.1   ParentBased(TraceIdRatioBased(0.1)): a realistic sampled set-up
 *   …-no-cm             the SDK without a context manager
 *   all-floor(-no-cm)   the target's configuration with floor-tracer.ts instead of the SDK: the
 *                       least any recording tracer could cost (with and without the context manager)
 *   metrics+limit       the target's configuration without tracing
 * `all` is metrics + tracing (always on) + the concurrency limit (256 running, 256 queued: never
 * reached), the configuration of the issue's target (≥ 0.9 × plain); `all-ratio-0.1` is the same
 * with sampled tracing, an extra row, not the target. Each case runs in a process of its
 * own (a context manager, once used, slows every promise of its process), the cases take turns,
 * and the median of the rounds is reported with the ratio to the plain server, by wall clock and
 * by the process's CPU time per call (less disturbed by other work on the machine). A profile of one
 * case: `node --cpu-prof dist/bench/observe-serve.js --case metrics+tracing`.
 *
 *   node dist/bench/observe-serve.js            5 rounds × 3 s per case
 *   node dist/bench/observe-serve.js --quick    3 rounds × 1 s per case
 *   ROUNDS=7 node dist/bench/observe-serve.js --quick --cases plain,all,all-floor    some cases only
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import { Observability } from "../src/observe/observe.js";
import { Server } from "../src/server/server.js";
import type { IncomingCall, Message } from "../src/transport/transport.js";
import { ConcurrencyLimit } from "../src/wrappers/load-shedding.js";
import { floorTracerProvider } from "./floor-tracer.js";

const CASES = [
  "plain",
  "limit",
  "metrics",
  "tracing-no-sdk",
  "tracing-sdk-off",
  "tracing",
  "tracing-ratio-0.1",
  "metrics+tracing",
  "metrics+tracing-no-cm",
  "all",
  "all-ratio-0.1",
  "all-floor",
  "all-floor-no-cm",
  "metrics+limit",
] as const;
/** The row the issue's target (≥ 0.9 × plain) refers to. */
const TARGET: Case = "all";
type Case = (typeof CASES)[number];

const at = process.argv.indexOf("--case");
if (at !== -1) {
  const name = process.argv[at + 1] as Case;
  const seconds = Number(process.argv[at + 2] ?? 3);
  process.stdout.write(`${JSON.stringify({ case: name, ...(await measure(name, seconds)) })}\n`);
} else {
  const quick = process.argv.includes("--quick");
  const rounds = Number(process.env.ROUNDS ?? (quick ? 3 : 5));
  const seconds = quick ? 1 : 3;
  const self = fileURLToPath(import.meta.url);
  const only = process.argv.indexOf("--cases");
  const chosen = only === -1 ? [...CASES] : (process.argv[only + 1].split(",") as Case[]);
  const runs = new Map<Case, Measured[]>(chosen.map((c) => [c, []]));
  for (let r = 0; r < rounds; r++) {
    for (const name of chosen) {
      const out = execFileSync(process.execPath, [self, "--case", name, String(seconds)], { encoding: "utf8" });
      runs.get(name)!.push(JSON.parse(out.trim()) as Measured);
    }
  }
  const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const medians = new Map(
    [...runs].map(([name, values]) => [name, { rate: median(values.map((v) => v.callsPerSecond)), cpu: median(values.map((v) => v.cpuMicrosPerCall)) }]),
  );
  const plain = medians.get("plain")!;
  const lines = [
    `Server.serve in process, 64 calls at a time, ${rounds} rounds × ${seconds} s, median; load average ${os.loadavg()[0].toFixed(1)}`,
    "| case | calls/s | × plain | CPU µs/call | × plain by CPU |",
    "|---|---:|---:|---:|---:|",
    ...[...medians].map(
      ([name, { rate, cpu }]) =>
        `| ${name === TARGET ? `**${name}** (target ≥ 0.90)` : name} | ${Math.round(rate)} | ${(rate / plain.rate).toFixed(2)} | ${cpu.toFixed(2)} | ${(plain.cpu / cpu).toFixed(2)} |`,
    ),
    "",
    `The target row: ${TARGET} = metrics + tracing (every span recorded) + the concurrency limit; *-ratio-0.1 rows sample 10 % of traces (an extra configuration, not the target).`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** Calls a second (wall clock), and the process's CPU time per call, which a shared machine disturbs less. */
interface Measured {
  callsPerSecond: number;
  cpuMicrosPerCall: number;
}

function samplerFor(name: Case): Sampler | undefined {
  if (name.endsWith("sdk-off")) return new AlwaysOffSampler();
  if (name.endsWith("ratio-0.1")) return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.1) });
  return undefined; // the SDK's default: AlwaysOn (ParentBased)
}

async function measure(name: Case, seconds: number): Promise<Measured> {
  const all = name.startsWith("all");
  const tracing = all || name.includes("tracing");
  if (name.startsWith("all-floor")) {
    trace.setGlobalTracerProvider(floorTracerProvider());
    if (!name.endsWith("-no-cm")) context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  } else if (tracing && name !== "tracing-no-sdk") {
    const dropping: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
    trace.setGlobalTracerProvider(new BasicTracerProvider({ sampler: samplerFor(name), spanProcessors: [new BatchSpanProcessor(dropping)] }));
    // -no-cm: the SDK without a context manager (spans passed in metadata only, see tracing.ts).
    if (!name.endsWith("-no-cm")) context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  }
  const observed = new Observability("bench-echo", { metrics: all || name.includes("metrics") ? { processMetrics: false } : false, tracing });
  // As a service puts them: observation outermost, then the limit (and its early check, admit).
  const limit = all || name === "limit" || name === "metrics+limit" ? new ConcurrencyLimit({ concurrency: 256, queue: 256, service: "bench-echo" }) : undefined;
  const wrappers = [...observed.handlerWrappers(), ...(limit ? [limit.wrapper] : [])];
  const server = new Server({ name: "bench-echo", wrappers: wrappers.length > 0 ? wrappers : undefined, admit: limit?.admit });
  server.handle(
    new (class Bench {
      async Echo(req: unknown): Promise<unknown> {
        return req;
      }
    })(),
  );
  const body = Buffer.from(JSON.stringify({ id: 42, name: "hello", tags: ["a", "b"], ok: true }));
  const call: IncomingCall = { remote: "127.0.0.1:1", signal: new AbortController().signal };
  let id = 0;
  const request = (): Message => ({
    header: {
      "Micro-Service": "bench-echo",
      "Micro-Endpoint": "Bench.Echo",
      "Micro-Id": (++id).toFixed(0),
      "Content-Type": "application/json",
      "Micro-Timeout": "30000000000",
    },
    body,
  });
  const batch = async (): Promise<void> => {
    const pending: Promise<Message>[] = [];
    for (let i = 0; i < 64; i++) pending.push(new Promise((respond) => server.serve(request(), call, respond)));
    await Promise.all(pending);
  };
  const until = performance.now() + 1_000;
  while (performance.now() < until) await batch();
  let calls = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const end = start + seconds * 1_000;
  while (performance.now() < end) {
    await batch();
    calls += 64;
  }
  const wall = (performance.now() - start) / 1_000;
  const used = process.cpuUsage(cpu);
  return { callsPerSecond: calls / wall, cpuMicrosPerCall: (used.user + used.system) / calls };
}
