/**
 * Helpers for tests of `micro run`: a long-running CLI process whose output is watched, and what
 * `micro status --json` says about the services it started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cli, runCli } from "../process/harness.js";
import { until } from "../setup/wait.js";

export interface RunProcess {
  child: ChildProcess;
  output: () => string;
  /** Waits until the output matches `pattern` (bounded), failing with the output so far. */
  waitFor: (pattern: RegExp, timeout?: number) => Promise<void>;
  /** Sends `signal` and resolves with the exit code (bounded: SIGKILL and a failure after `timeout`). */
  stop: (signal?: NodeJS.Signals, timeout?: number) => Promise<number | null>;
}

export function startRun(args: string[], env: Record<string, string>, cwd: string): RunProcess {
  const child = spawn(process.execPath, [cli, "run", ...args], { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output: () => output,
    waitFor: (pattern, timeout = 60_000) =>
      until(
        () => pattern.test(output),
        timeout,
        () => `micro run's output never matched ${pattern}:\n${output}`,
      ),
    async stop(signal = "SIGINT", timeout = 60_000) {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([exited, new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeout)))]);
      clearTimeout(timer);
      if (code === "timeout") {
        child.kill("SIGKILL");
        throw new Error(`micro run did not exit within ${timeout} ms of ${signal}:\n${output}`);
      }
      return code;
    },
  };
}

export interface StatusEntry {
  name: string;
  pid: number;
  state: string;
  restarts: number;
  log: string;
  /** The spare process micro run keeps for the next restart, once it has started one. */
  standby?: number;
}

export async function status(env: Record<string, string>): Promise<StatusEntry[]> {
  const { code, stdout, stderr } = await runCli(["status", "--json"], env);
  if (code !== 0) throw new Error(`micro status failed: ${stderr}`);
  return JSON.parse(stdout) as StatusEntry[];
}

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
