/**
 * Open-loop load for the overload benchmark: offers `rate` calls a second to `Slow.Work` for
 * `seconds`, whatever the answers, and prints one JSON line: calls completed and shed, the p50/p99
 * latency of each, other errors, and the server's RSS before and after (from `Slow.Stats`).
 * The same offer runs for `warmup` seconds first (default 1), unrecorded: in a cold process the
 * first ticks' calls took 10–25 ms (code not yet compiled, the heap still growing through its
 * first full collections), a fifth to a half of the shed calls over 5 ms in a 5–10 s run. The
 * calls in flight are counted, not kept, so the client's heap stays flat while it measures.
 *   node dist/bench/clients/overload-load.js <rate> <seconds> [warmup]
 */
import { createClient, createLogger, MicroError } from "../../src/index.js";

const [rateArg, secondsArg, warmupArg] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const warmup = Number(warmupArg ?? 1);
const client = createClient({ logger: createLogger({ level: "fatal" }), retries: 0, timeout: 30_000 });
const stats = () => client.call<{ rss: number; shed: number }>("bench-slow", "Slow.Stats", {});

let ok: number[] = [];
let shed: number[] = [];
let errors = 0;
const tick = 10;
const perTick = (rate * tick) / 1_000;
let inFlight = 0;
let settled: (() => void) | undefined;

/** Offers `rate` calls a second for `ms`, then waits for every call to be answered. */
async function offer(ms: number): Promise<void> {
  let owed = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    owed += perTick;
    for (; owed >= 1; owed--) {
      const started = performance.now();
      inFlight++;
      client
        .call("bench-slow", "Slow.Work", {})
        .then(
          () => void ok.push(performance.now() - started),
          (err: unknown) => {
            if (err instanceof MicroError && err.code === 503) shed.push(performance.now() - started);
            else errors++;
          },
        )
        .finally(() => {
          if (--inFlight === 0) settled?.();
        });
    }
    await new Promise((resolve) => setTimeout(resolve, tick));
  }
  if (inFlight > 0) await new Promise<void>((resolve) => (settled = resolve));
  settled = undefined;
}

if (warmup > 0) {
  await offer(warmup * 1_000);
  ok = [];
  shed = [];
  errors = 0;
}
const before = await stats();
let peakRss = before.rss;
const sampler = setInterval(
  () =>
    void stats().then(
      (s) => (peakRss = Math.max(peakRss, s.rss)),
      () => {},
    ),
  500,
);
await offer(seconds * 1_000);
clearInterval(sampler);
const after = await stats();
const pct = (values: number[], p: number): number => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] * 1_000) / 1_000;
};
process.stdout.write(
  `${JSON.stringify({
    offered_per_s: rate,
    seconds,
    warmup_s: warmup,
    completed: ok.length,
    shed: shed.length,
    errors,
    ok_p50_ms: pct(ok, 50),
    ok_p99_ms: pct(ok, 99),
    shed_p50_ms: pct(shed, 50),
    shed_p99_ms: pct(shed, 99),
    rss_before_mb: Math.round(before.rss / 2 ** 20),
    rss_peak_mb: Math.round(Math.max(peakRss, after.rss) / 2 ** 20),
    rss_after_mb: Math.round(after.rss / 2 ** 20),
  })}\n`,
);
await client.close();
