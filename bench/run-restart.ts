/**
 * `micro run`'s restart: from saving a handler file to the first call that gets the new code's
 * answer. A project made by `micro new` (ts-micro linked into its node_modules instead of an npm
 * install), run by `micro run --no-gateway`; its handler is edited N times and a long-lived client
 * (as the gateway's) calls until the answer changes. Each round is split into phases read from
 * micro run's output as it arrives:
 *
 *   debounce   save → "[micro] restarting"           (file-watch debounce)
 *   stop       → "[micro] stopped"                   (SIGTERM, deregister, drain, exit)
 *   spawn      → "[micro] started (pid …)"           (the new process is spawned)
 *   boot       → the new process's "service started" (node + tsx load, listen, register)
 *   discover   → the first call answered by the new code (the client's registry cache)
 *
 * With an overlapping restart the phases need not follow each other; each is measured from the
 * save. Two modes in the same run, for a ratio that means something on a busy machine: the default
 * (a preloaded standby takes over) and `--no-standby` (a fresh node + tsx process per restart).
 * Usage: `npm run bench:run [-- --rounds N]`.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createClient } from "../src/index.js";
import { LocalRegistry } from "../src/registry/local.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const cli = path.join(root, "dist", "src", "cli", "main.js");

const PHASES = ["restarting", "stopped", "started", "booted", "served"] as const;
type Phase = (typeof PHASES)[number];
const MARKS: Record<Exclude<Phase, "served">, RegExp> = {
  restarting: /\[micro\] restarting:/,
  stopped: /\[micro\] (previous process )?stopped/,
  started: /\[micro\] started \(pid/,
  booted: /"service started"/,
};

const { values } = parseArgs({ options: { rounds: { type: "string", default: "9" } } });
const rounds = Number(values.rounds);

const work = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-bench-run-"));
const project = path.join(work, "hello");
const env = {
  ...process.env,
  MICRO_REGISTRY: "local",
  MICRO_REGISTRY_ADDRESS: path.join(work, "registry"),
  MICRO_RUN_DIR: path.join(work, "run"),
  MICRO_LOG_LEVEL: "info",
};

function makeProject(): void {
  const made = spawnSync(process.execPath, [cli, "new", project], { env, encoding: "utf8" });
  if (made.status !== 0) throw new Error(`micro new failed: ${made.stderr}`);
  // This checkout as the project's ts-micro (what its `file:` dependency would install).
  fs.mkdirSync(path.join(project, "node_modules"), { recursive: true });
  fs.symlinkSync(root, path.join(project, "node_modules", "ts-micro"), "dir");
}

/** micro run, its output lines time-stamped as they arrive. */
function startRun(flags: string[]): { child: ChildProcess; lines: Array<{ at: number; line: string }> } {
  const child = spawn(process.execPath, [cli, "run", "--no-gateway", ...flags], { cwd: project, env, stdio: ["ignore", "pipe", "inherit"] });
  const lines: Array<{ at: number; line: string }> = [];
  let rest = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    const at = performance.now();
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    for (const line of parts) lines.push({ at, line });
  });
  return { child, lines };
}

function firstAfter(lines: Array<{ at: number; line: string }>, from: number, pattern: RegExp): number | undefined {
  return lines.find((l) => l.at >= from && pattern.test(l.line))?.at;
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** N restarts under one micro run with `flags`: each round's phases, ms after the save. */
async function measure(flags: string[]): Promise<Array<Record<Phase, number>>> {
  const handler = path.join(project, "src", "handler.ts");
  const original = fs.readFileSync(handler, "utf8");
  const run = startRun(flags);
  const registry = new LocalRegistry({ path: env.MICRO_REGISTRY_ADDRESS });
  const client = createClient({ registry });
  const answer = async (): Promise<string> => {
    try {
      return ((await client.call<{ msg: string }>("hello", "Hello.Call", { name: "x" }, { timeout: 1_000 })) ?? { msg: "" }).msg;
    } catch {
      return "";
    }
  };
  const results: Array<Record<Phase, number>> = [];
  try {
    const readyBy = performance.now() + 60_000;
    while ((await answer()) !== "Hello x") {
      if (performance.now() > readyBy) throw new Error(`the service never answered:\n${run.lines.map((l) => l.line).join("\n")}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (let round = 1; round <= rounds; round++) {
      const word = `Round${round}`;
      // A pause between rounds, so the previous process has settled.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const saved = performance.now();
      fs.writeFileSync(handler, original.replace("`Hello $", `\`${word} $`));
      const giveUp = saved + 30_000;
      let served: number | undefined;
      while (served === undefined && performance.now() < giveUp) {
        if ((await answer()).startsWith(word)) served = performance.now();
        else await new Promise((resolve) => setTimeout(resolve, 10));
      }
      if (served === undefined) throw new Error(`round ${round}: the new code never answered`);
      // The marks may still be on their way through the pipe: a moment for them.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const at = (phase: Phase): number => (phase === "served" ? served : (firstAfter(run.lines, saved, MARKS[phase]) ?? Number.NaN)) - saved;
      const row = Object.fromEntries(PHASES.map((p) => [p, at(p)])) as Record<Phase, number>;
      results.push(row);
      process.stdout.write(`${flags.join(" ") || "default"} round ${round}: ${PHASES.map((p) => `${p} ${row[p].toFixed(0)} ms`).join(", ")}\n`);
    }
  } finally {
    fs.writeFileSync(handler, original);
    run.child.kill("SIGINT");
    await new Promise((resolve) => run.child.once("exit", resolve));
    await client.close();
    await registry.close();
  }
  return results;
}

async function main(): Promise<void> {
  makeProject();
  const modes: Array<{ name: string; flags: string[] }> = [
    { name: "standby", flags: [] },
    { name: "no-standby", flags: ["--no-standby"] },
  ];
  const medians: Record<string, Record<Phase, number>> = {};
  try {
    for (const mode of modes) {
      const results = await measure(mode.flags);
      medians[mode.name] = Object.fromEntries(PHASES.map((p) => [p, median(results.map((r) => r[p]))])) as Record<Phase, number>;
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const load = os.loadavg().map((l) => l.toFixed(2));
  process.stdout.write(`\nmedian of ${rounds} rounds, ms after the save (load average ${load.join(" ")}; a shared machine: noisy)\n`);
  process.stdout.write(`  ${"phase".padEnd(11)} ${modes.map((m) => m.name.padStart(11)).join(" ")}\n`);
  for (const phase of PHASES) process.stdout.write(`  ${phase.padEnd(11)} ${modes.map((m) => medians[m.name][phase].toFixed(0).padStart(11)).join(" ")}\n`);
  process.stdout.write(`  served: standby / no-standby = ${(medians.standby.served / medians["no-standby"].served).toFixed(2)}\n`);
  process.stdout.write(`${JSON.stringify({ suite: "run-restart", rounds, load: os.loadavg(), median: medians })}\n`);
}

await main();
