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
  /**
   * Arguments of a standby process (run/standby.ts): when given, every process starts as one and
   * is told to go, and a spare one is kept loaded so that a restart skips node's and tsx's start.
   */
  standby?: string[];
  /**
   * Whether a restart may start the new process while the old one stops (deregisters, drains):
   * not for a service on a fixed port, which the old one holds until it exits.
   */
  overlap?: boolean;
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

/**
 * How long after a start the spare standby is spawned: not at once, where it would compete for
 * the CPU with the service that is starting.
 */
const STANDBY_DELAY = 1_500;

export class Supervised {
  private child: ChildProcess | undefined;
  private closed: Promise<void> = Promise.resolve();
  /** Processes asked to stop (their exit is "stopped", not "exited"). */
  private readonly asked = new WeakSet<ChildProcess>();
  /** Old processes still stopping after a restart started their successor. */
  private readonly retiring = new Map<ChildProcess, Promise<void>>();
  /** The spare, loaded and waiting to be told to go. */
  private standby: ChildProcess | undefined;
  private standbyTimer: NodeJS.Timeout | undefined;
  private down = false;
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
    return this.child !== undefined && isAlive(this.child);
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
    this.down = false;
    const spare = this.standby && isAlive(this.standby) ? this.standby : undefined;
    this.standby = undefined;
    const child = spare ?? this.spawn(this.spec.standby ?? this.spec.args);
    // A standby imports the entry, as it is on disk now, once told to.
    if (this.spec.standby) child.stdin?.end("\n");
    this.child = child;
    this.closed = new Promise((resolve) => child.once("close", (code, signal) => resolve(this.onExit(child, code, signal))));
    child.once("error", (err) => this.say(`could not start: ${err.message}`));
    this.update({
      pid: child.pid ?? 0,
      started: new Date().toISOString(),
      status: "running",
      exit: undefined,
      restarts: this.record.restarts + 1,
      standby: undefined,
    });
    this.say(`started (pid ${child.pid}${spare ? ", from standby" : ""})`);
    this.prepareStandby();
  }

  /**
   * Stops the process (if it runs) and starts it again; nothing before the first start. With
   * `overlap`, the new process starts while the old one deregisters and drains.
   */
  restart(reason: string): Promise<void> {
    return this.enqueue(async () => {
      if (!this.child) return;
      this.say(`restarting: ${reason}`);
      if (this.spec.overlap && this.running) {
        this.retire(this.child, this.closed);
        this.child = undefined;
      } else await this.stopNow();
      this.start();
    });
  }

  stop(): Promise<void> {
    return this.enqueue(async () => {
      this.down = true;
      this.dropStandby();
      await this.stopNow();
    });
  }

  /** SIGKILL at once, to the whole group: for a second Ctrl-C. */
  kill(): void {
    for (const child of [this.child, this.standby, ...this.retiring.keys()]) if (child && isAlive(child) && child.pid) signalGroup(child.pid, "SIGKILL");
  }

  /** A line from micro run itself about this process, on the terminal and in its log. */
  say(message: string): void {
    this.output([`[micro] ${message}`]);
  }

  private spawn(args: string[]): ChildProcess {
    const child = spawn(this.spec.command, args, {
      cwd: this.spec.dir,
      env: { ...process.env, ...this.spec.env },
      stdio: [this.spec.standby ? "pipe" : "ignore", "pipe", "pipe"],
      detached: true,
    });
    child.stdin?.on("error", () => {}); // a standby that died: its start reports it
    for (const stream of [child.stdout!, child.stderr!]) {
      const lines = new LineSplitter();
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => this.output(lines.push(chunk)));
      stream.on("end", () => this.output(lines.end()));
    }
    return child;
  }

  /** Spawns the spare standby a moment after a start (once: while one waits, none more). */
  private prepareStandby(): void {
    if (!this.spec.standby || this.standbyTimer) return;
    this.standbyTimer = setTimeout(() => {
      this.standbyTimer = undefined;
      if (this.down || (this.standby && isAlive(this.standby))) return;
      const standby = this.spawn(this.spec.standby!);
      standby.once("error", () => {});
      // One that dies before it is used (a failed import, the OOM killer) is no longer named.
      standby.once("exit", () => {
        if (this.standby !== standby) return;
        this.standby = undefined;
        this.update({ standby: undefined });
      });
      this.standby = standby;
      this.update({ standby: standby.pid });
    }, STANDBY_DELAY);
    this.standbyTimer.unref();
  }

  private dropStandby(): void {
    clearTimeout(this.standbyTimer);
    this.standbyTimer = undefined;
    const standby = this.standby;
    this.standby = undefined;
    if (this.record.standby !== undefined) this.update({ standby: undefined });
    // It has run nothing of the service yet: nothing to deregister.
    if (standby && isAlive(standby) && standby.pid) signalGroup(standby.pid, "SIGKILL");
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(work, work);
    return this.queue;
  }

  /** Stops the current process and waits for it and for every old one still stopping. */
  private async stopNow(): Promise<void> {
    const child = this.child;
    if (child && this.running) await this.terminate(child, this.closed);
    await Promise.all(this.retiring.values());
  }

  /** Lets an old process stop in the background, tracked until it has. */
  private retire(child: ChildProcess, closed: Promise<void>): void {
    const done = this.terminate(child, closed).finally(() => this.retiring.delete(child));
    this.retiring.set(child, done);
  }

  /** SIGTERM, then SIGKILL to its group when it is still there after the stop timeout. */
  private async terminate(child: ChildProcess, closed: Promise<void>): Promise<void> {
    this.asked.add(child);
    child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), this.options.stopTimeout);
      }),
    ]);
    clearTimeout(timer);
    if (inTime) return;
    this.say(`pid ${child.pid} still running ${this.options.stopTimeout} ms after SIGTERM: killing it`);
    if (child.pid) signalGroup(child.pid, "SIGKILL");
    await closed;
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const exit = signal ? signal : `code ${code}`;
    if (child !== this.child) {
      this.say(`previous process stopped (pid ${child.pid}, ${exit})`);
      return;
    }
    const stopping = this.asked.has(child);
    this.update({ status: stopping ? "stopped" : "exited", exit });
    if (stopping) this.say(`stopped (${exit})`);
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

function isAlive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
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
