/**
 * Process plumbing for benchmarks: servers and load generators run as separate processes, pinned
 * to different cores when `taskset` is available (one core each on a 2-core machine).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { LoadResult } from "./payload.js";

export const benchDir = path.dirname(fileURLToPath(import.meta.url));
const hasTaskset = spawnSync("taskset", ["--version"]).status === 0;

function command(script: string, args: string[], core: number | undefined): [string, string[]] {
  const node = [script, ...args];
  return hasTaskset && core !== undefined ? ["taskset", ["-c", String(core), process.execPath, ...node]] : [process.execPath, node];
}

export interface Server {
  address: string;
  /** The server process's id (for its CPU time, see cpuSeconds). */
  pid?: number;
  stop(): void;
}

/** CPU time (user + system) a process has used so far, from /proc; undefined where there is no /proc. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  const times = cpuTimes(pid);
  return times && times.user + times.system;
}

/** User and system CPU seconds a process has used so far, from /proc/PID/stat; undefined where there is none. */
export function cpuTimes(pid: number | undefined): { user: number; system: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    // The fields after the command name (which may hold spaces, hence the last parenthesis): utime and stime are the 12th and 13th.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(fields[11]) / CLOCK_TICKS, system: Number(fields[12]) / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** Linux's USER_HZ, the unit of /proc's CPU times: 100 on every common platform. */
const CLOCK_TICKS = 100;

export function startServer(script: string, env: Record<string, string>, core?: number): Promise<Server> {
  const [cmd, args] = command(path.join(benchDir, script), [], core);
  const child: ChildProcess = spawn(cmd, args, { env: { ...process.env, MICRO_LOG_LEVEL: "warn", ...env }, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${script} did not start`)), 15_000);
    child.stdout!.on("data", (d) => {
      out += d;
      const match = /READY (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ address: match[1], pid: child.pid, stop: () => child.kill("SIGTERM") });
      }
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

/** Runs a client script to completion and returns the JSON object on its last output line. */
export function runClient<T>(script: string, args: Array<string | number>, env: Record<string, string>, core?: number): Promise<T> {
  const [cmd, cmdArgs] = command(path.join(benchDir, script), args.map(String), core);
  const child = spawn(cmd, cmdArgs, { env: { ...process.env, MICRO_LOG_LEVEL: "warn", ...env }, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.once("exit", (code) => {
      try {
        resolve(JSON.parse(out.trim().split("\n").pop()!) as T);
      } catch {
        reject(new Error(`${script} ${args.join(" ")} exited with ${code} and printed ${JSON.stringify(out)}`));
      }
    });
  });
}

export function runLoad(
  framework: string,
  address: string,
  concurrency: number,
  warmup: number,
  seconds: number,
  env: Record<string, string>,
  core?: number,
): Promise<LoadResult> {
  return runClient<LoadResult>("clients/load.js", [framework, address, concurrency, warmup, seconds], env, core);
}

export function median<T>(values: T[], key: (v: T) => number): T {
  return [...values].sort((a, b) => key(a) - key(b))[Math.floor(values.length / 2)];
}
