/**
 * Process plumbing for the peer benchmark. Unlike bench/harness.ts it runs any executable (Node
 * scripts and Go binaries alike), exposes the child so its RSS can be read, and can hand a
 * process a line on stdin (how a start-up probe learns an address chosen at run time).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";

const hasTaskset = spawnSync("taskset", ["--version"]).status === 0;

/** A command line: a Node script (run with this Node) or an executable. */
export interface Command {
  file: string;
  args?: string[];
  node?: boolean;
}

export interface Proc {
  child: ChildProcess;
  /** Resolves with the first regexp match on stdout; rejects if the process exits first or after `ms`. */
  waitFor(pattern: RegExp, ms: number): Promise<RegExpExecArray>;
  /** Resolves with the last line printed on stdout once the process exits. */
  lastLine(): Promise<string>;
  send(line: string): void;
  /** Freezes the process (SIGSTOP) or lets it run again (SIGCONT). */
  pause(paused: boolean): void;
  stop(): Promise<void>;
}

/** Spawns `command` pinned to `core` when taskset exists (taskset execs, so the pid is the program's). */
export function spawnPinned(command: Command, env: Record<string, string>, core: number): Proc {
  const argv = command.node ? [process.execPath, command.file, ...(command.args ?? [])] : [command.file, ...(command.args ?? [])];
  const [cmd, ...args] = hasTaskset ? ["taskset", "-c", String(core), ...argv] : argv;
  const child = spawn(cmd, args, { env: { ...process.env, MICRO_LOG_LEVEL: "warn", ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err = (err + d).slice(-4_000)));
  child.stdin!.on("error", () => {});
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const failure = (what: string): Error => new Error(`${what}\n${(err || out).trim().split("\n").slice(-8).join("\n")}`);

  return {
    child,
    waitFor(pattern, ms) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(undefined, failure(`no ${pattern} within ${ms} ms`)), ms);
        const check = (): void => {
          const match = pattern.exec(out);
          if (match) done(match);
        };
        const done = (match?: RegExpExecArray, error?: Error): void => {
          clearTimeout(timer);
          child.stdout!.off("data", check);
          if (match) resolve(match);
          else reject(error);
        };
        child.stdout!.on("data", check);
        void exited.then((code) => done(undefined, failure(`exited with ${code}`)));
        check();
      });
    },
    async lastLine() {
      const code = await exited;
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0) throw failure(`exited with ${code}`);
      return line;
    },
    send(line) {
      child.stdin!.write(`${line}\n`);
    },
    pause(paused) {
      if (child.exitCode === null && child.signalCode === null) child.kill(paused ? "SIGSTOP" : "SIGCONT");
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGCONT"); // a paused process would not act on SIGTERM
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 3_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Resident set size of a process in MB (VmRSS), or undefined when /proc is not there. */
export function rssMb(pid: number | undefined): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return Number.isFinite(kb) ? Math.round(kb / 102.4) / 10 : undefined;
  } catch {
    return undefined;
  }
}

/** A TCP port that was free a moment ago, for servers that must be told their port up front. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Wall clock in µs with sub-ms resolution, comparable across processes on one host. */
export function wallMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1_000);
}
