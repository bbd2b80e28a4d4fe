/**
 * Open-loop load for the overload benchmark: offers `rate` calls a second to `Slow.Work` for
 * `seconds`, whatever the answers, and prints one JSON line: calls completed and shed, the p50/p99
 * latency of each, other errors, and the server's RSS before and after (from `Slow.Stats`).
 *   node dist/bench/clients/overload-load.js <rate> <seconds>
 */
import { createClient, createLogger, MicroError } from "../../src/index.js";

const [rateArg, secondsArg] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const client = createClient({ logger: createLogger({ level: "fatal" }), retries: 0, timeout: 30_000 });
const stats = () => client.call<{ rss: number; shed: number }>("bench-slow", "Slow.Stats", {});

const ok: number[] = [];
const shed: number[] = [];
let errors = 0;
const before = await stats();
const pending: Promise<void>[] = [];
const tick = 10;
const perTick = (rate * tick) / 1_000;
let owed = 0;
const end = Date.now() + seconds * 1_000;
let peakRss = before.rss;
const sampler = setInterval(
  () =>
    void stats().then(
      (s) => (peakRss = Math.max(peakRss, s.rss)),
      () => {},
    ),
  500,
);
while (Date.now() < end) {
  owed += perTick;
  for (; owed >= 1; owed--) {
    const started = performance.now();
    pending.push(
      client.call("bench-slow", "Slow.Work", {}).then(
        () => void ok.push(performance.now() - started),
        (err: unknown) => {
          if (err instanceof MicroError && err.code === 503) shed.push(performance.now() - started);
          else errors++;
        },
      ),
    );
  }
  await new Promise((resolve) => setTimeout(resolve, tick));
}
await Promise.all(pending);
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
