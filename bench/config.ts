/**
 * `npm run bench:config`: what reading config costs on a hot path. `config.get("a.b.c")` and the
 * typed getters, next to reading the same value as a plain object property (the floor), measured
 * in the same run: ops/s, median of 5 rounds, and the ratio to the floor.
 */
import { loadConfig } from "../src/config/load.js";
import { memory } from "../src/config/memory.js";
import { lookup, splitPath } from "../src/config/tree.js";

const quick = process.argv.includes("--quick");
const OPS = quick ? 2_000_000 : 20_000_000;
const ROUNDS = 5;

let loops = 0;

/**
 * ops/s of `op` over OPS calls, median of ROUNDS (after a warm-up). Each measurement gets a loop
 * compiled for it alone: a loop shared by every row would see several `op`s, and the row measured
 * first (the floor) would be the only one timed before its call site turned polymorphic. The
 * source differs per loop (a numbered comment) because V8 caches functions compiled from the same
 * source, and with them the call site's feedback.
 */
function measure(op: (i: number) => unknown): number {
  loops++;
  const body = `let sink = 0; for (let i = 0; i < n; i++) if (op(i) !== undefined) sink++; return sink; // loop ${loops}`;
  const loop = new Function("op", "n", body) as (op: (i: number) => unknown, n: number) => number;
  const run = (n: number): number => {
    const start = process.hrtime.bigint();
    if (loop(op, n) < 0) process.stdout.write("");
    return n / (Number(process.hrtime.bigint() - start) / 1e9);
  };
  run(OPS / 10);
  const rates = Array.from({ length: ROUNDS }, () => run(OPS)).sort((x, y) => x - y);
  return rates[Math.floor(ROUNDS / 2)];
}

const tree = { a: { b: { c: 42, d: "text" } }, server: { port: 8080, timeout: "5s" } };
const plain = structuredClone(tree);
const config = await loadConfig(memory(tree));
const paths = ["a.b.c", "a.b.d", "server.port", "server.timeout"];

const rows: Array<[string, number]> = [];
const floor = measure(() => plain.a.b.c);
rows.push(["plain property read   obj.a.b.c", floor]);
const byPath = new Map(paths.map((p) => [p, lookup(tree, splitPath(p))]));
rows.push(['Map.get("a.b.c") on a prebuilt Map', measure(() => byPath.get("a.b.c"))]);
rows.push(['config.get("a.b.c")', measure(() => config.get("a.b.c"))]);
const handle = config.at<number>("a.b.c");
rows.push(['config.at("a.b.c").value (handle taken once)', measure(() => handle.value)]);
rows.push(['config.number("a.b.c")', measure(() => config.number("a.b.c"))]);
rows.push(['config.duration("server.timeout")', measure(() => config.duration("server.timeout"))]);
rows.push(["config.get over 4 paths in turn", measure((i) => config.get(paths[i & 3]))]);
rows.push(["uncached: split + walk each time", measure(() => lookup(tree, splitPath("a.b.c")))]);
await config.close();

process.stdout.write(`config reads, ${OPS.toLocaleString("en")} ops × ${ROUNDS} rounds (median), Node ${process.version}\n\n`);
process.stdout.write(`| read | ops/s | × plain read |\n|---|---:|---:|\n`);
for (const [label, rate] of rows) process.stdout.write(`| ${label} | ${(rate / 1e6).toFixed(1)} M | ${(rate / floor).toFixed(2)} |\n`);
