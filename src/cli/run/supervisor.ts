/**
 * One process that `micro run` keeps: started, its output prefixed on the terminal and appended to
 * its log file, restarted on demand, and stopped gracefully: SIGTERM (a ts-micro service then
 * deregisters and drains), and SIGKILL to its whole process group if it is still there after the
 * bound. A process that exits on its own is reported and left down until the next restart: one
 * service crashing never takes the others with it.
 *
 * Each process leads its own process group, so a Ctrl-C on the terminal reaches `micro run` alone,
 * which then sends each service exactly one SIGTERM (a ts-micro service exits at once on a second
 * signal, without deregistering).
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import { LineSplitter, type Prefixer } from "./output.js";
import type { RunRecord, RunState } from "./state.js";

export interface ProcessSpec {
  name: string;
  dir: string;
  command: string;
  args: string[];
  /** Added to this process's environment. */
  env: Record<string, string>;
  /** Whether a change to its files restarts it (for the message when it exits). */
  watched: boolean;
}

export interface SupervisorOptions {
  state: RunState;
  prefixer: Prefixer;
  /** Longest wait after SIGTERM before SIGKILL, in ms. */
  stopTimeout: number;
}

export class Supervised {
  private child: ChildProcess | undefined;
  private closed: Promise<void> = Promise.resolve();
  private stopping = false;
  /** Restarts and stops one at a time, in the order asked. */
  private queue: Promise<void> = Promise.resolve();
  private readonly prefix: string;
  private readonly log: fs.WriteStream;
  private record: RunRecord;

  constructor(
    readonly spec: ProcessSpec,
    index: number,
    private readonly options: SupervisorOptions,
  ) {
    this.prefix = options.prefixer.prefix(spec.name, index);
    const log = options.state.logFile(spec.name, spec.dir);
    this.log = fs.createWriteStream(log, { flags: "a", mode: 0o600 });
    this.record = { name: spec.name, dir: spec.dir, pid: 0, runner: process.pid, log, started: new Date().toISOString(), status: "starting", restarts: -1 };
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Resolves when the current process has exited (at once if there is none). */
  whenExited(): Promise<void> {
    return this.closed;
  }

  start(): void {
    if (this.running) return;
    this.stopping = false;
    const child = spawn(this.spec.command, this.spec.args, {
      cwd: this.spec.dir,
      env: { ...process.env, ...this.spec.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    this.child = child;
    for (const stream of [child.stdout!, child.stderr!]) {
      const lines = new LineSplitter();
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => this.output(lines.push(chunk)));
      stream.on("end", () => this.output(lines.end()));
    }
    this.closed = new Promise((resolve) => child.once("close", (code, signal) => resolve(this.onExit(child, code, signal))));
    child.once("error", (err) => this.say(`could not start: ${err.message}`));
    this.update({ pid: child.pid ?? 0, started: new Date().toISOString(), status: "running", exit: undefined, restarts: this.record.restarts + 1 });
    this.say(`started (pid ${child.pid})`);
  }

  /** Stops the process (if it runs) and starts it again; nothing before the first start. */
  restart(reason: string): Promise<void> {
    return this.enqueue(async () => {
      if (!this.child) return;
      this.say(`restarting: ${reason}`);
      await this.stopNow();
      this.start();
    });
  }

  stop(): Promise<void> {
    return this.enqueue(() => this.stopNow());
  }

  /** SIGKILL at once, to the whole group: for a second Ctrl-C. */
  kill(): void {
    if (this.running && this.child?.pid) signalGroup(this.child.pid, "SIGKILL");
  }

  /** A line from micro run itself about this process, on the terminal and in its log. */
  say(message: string): void {
    this.output([`[micro] ${message}`]);
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(work, work);
    return this.queue;
  }

  private async stopNow(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.stopping = true;
    child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), this.options.stopTimeout);
      }),
    ]);
    clearTimeout(timer);
    if (inTime) return;
    this.say(`still running ${this.options.stopTimeout} ms after SIGTERM: killing it`);
    if (child.pid) signalGroup(child.pid, "SIGKILL");
    await this.closed;
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    const exit = signal ? signal : `code ${code}`;
    this.update({ status: this.stopping ? "stopped" : "exited", exit });
    if (this.stopping) this.say(`stopped (${exit})`);
    else this.say(`exited (${exit})${this.spec.watched ? "; it restarts when one of its files changes" : ""}`);
  }

  private output(lines: string[]): void {
    if (lines.length === 0) return;
    this.options.prefixer.write(this.prefix, lines);
    this.log.write(lines.map((line) => `${line}\n`).join(""));
  }

  private update(change: Partial<RunRecord>): void {
    this.record = { ...this.record, ...change };
    try {
      this.options.state.write(this.record);
    } catch (err) {
      // micro status would be out of date; the service itself is fine.
      this.say(`cannot record its state for micro status: ${(err as Error).message}`);
    }
  }

  /** Flushes the log file; the process must be stopped. */
  close(): Promise<void> {
    return new Promise((resolve) => this.log.end(resolve));
  }
}

/** Signals a process group (the process leads one: spawned detached), or the process if the group is gone. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}
