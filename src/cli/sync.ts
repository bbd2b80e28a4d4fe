/**
 * `micro sync lock|elect NAME -- CMD…`: run a command under a distributed lock or only while
 * leader, as `etcdctl lock` and `etcdctl elect` do. The backend is the one services use
 * (MICRO_SYNC, MICRO_SYNC_ADDRESS); it must be shared (etcd, redis or nats), since a memory lock
 * excludes nothing outside this process.
 *
 * The command gets the fencing token in MICRO_SYNC_TOKEN. When it exits the lock is released (the
 * leadership resigned) and its exit code is this process's. If the lock or leadership is lost
 * while it runs, it gets SIGTERM and this process exits non-zero. SIGINT and SIGTERM sent here
 * are passed on to the command; before it has started they stop the waiting.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:os";
import { parseArgs } from "node:util";
import { resolveSync } from "../service/resolve.js";
import type { Sync } from "../sync/sync.js";
import { parseDurationFlag } from "./flags.js";
import { UsageError } from "./usage.js";

const OPTIONS = {
  lock: { ttl: { type: "string" }, wait: { type: "string" } },
  elect: { ttl: { type: "string" } },
} as const;

/** What is held while the command runs: a lock or a leadership term. */
interface Held {
  readonly token: bigint;
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

/** micro sync <lock|elect> NAME [--ttl d] [--wait d] -- CMD… */
export async function syncCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action !== "lock" && action !== "elect") throw new UsageError(`sync needs lock or elect, not ${JSON.stringify(action ?? "")}`);
  const { values, positionals } = parseArgs({ args: rest, options: OPTIONS[action], allowPositionals: true });
  const [name, ...command] = positionals;
  if (!name || command.length === 0) throw new UsageError(`sync ${action} needs a name and a command, e.g. micro sync ${action} nightly-report -- ./report.sh`);
  const ttl = parseDurationFlag("ttl", values.ttl);
  const wait = parseDurationFlag("wait", (values as { wait?: string }).wait);
  const sync = resolveSync();
  if (sync.name === "memory") {
    await sync.close();
    throw new UsageError("sync needs a shared backend: set MICRO_SYNC=etcd, redis or nats (and MICRO_SYNC_ADDRESS)");
  }
  const signals = new SignalRelay();
  try {
    const held = await acquire(sync, action, name, { ttl, wait, signal: signals.beforeStart });
    if (typeof held === "number") return held;
    return await runWhileHeld(command, held, signals);
  } finally {
    signals.dispose();
    await sync.close();
  }
}

/** The lock or leadership, or the exit code when it was not had (interrupted, timed out, backend down). */
async function acquire(
  sync: Sync,
  action: "lock" | "elect",
  name: string,
  options: { ttl?: number; wait?: number; signal: AbortSignal },
): Promise<Held | number> {
  try {
    if (action === "lock") {
      const lock = await sync.lock(name, options);
      return { token: lock.token, lost: lock.lost, release: () => lock.unlock() };
    }
    const term = await sync.leader(name, { ttl: options.ttl, signal: options.signal });
    return { token: term.token, lost: term.lost, release: () => term.resign() };
  } catch (err) {
    if (options.signal.aborted) return signalExitCode(options.signal.reason as NodeJS.Signals);
    process.stderr.write(`micro: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** Runs the command and releases when it exits; stops it (SIGTERM) if what is held is lost first. */
async function runWhileHeld(command: string[], held: Held, signals: SignalRelay): Promise<number> {
  const child = spawn(command[0], command.slice(1), { stdio: "inherit", env: { ...process.env, MICRO_SYNC_TOKEN: String(held.token) } });
  signals.forwardTo(child);
  const stop = (): void => {
    const reason = held.lost.reason instanceof Error ? held.lost.reason.message : String(held.lost.reason);
    process.stderr.write(`micro: ${reason}; stopping ${command[0]} (SIGTERM)\n`);
    child.kill("SIGTERM");
  };
  held.lost.addEventListener("abort", stop, { once: true });
  const code = await new Promise<number>((resolve) => {
    child.once("error", (err) => {
      process.stderr.write(`micro: cannot run ${command[0]}: ${err.message}\n`);
      resolve(127);
    });
    child.once("exit", (exitCode, signal) => resolve(exitCode ?? signalExitCode(signal ?? "SIGTERM")));
  });
  held.lost.removeEventListener("abort", stop);
  if (held.lost.aborted) return code === 0 ? 1 : code;
  await held.release();
  return code;
}

/**
 * SIGINT and SIGTERM: before the command starts they abort `beforeStart` (waiting for the lock
 * ends); once it runs they are passed on to it, and its exit ends this process.
 */
class SignalRelay {
  private readonly waiting = new AbortController();
  private child: ChildProcess | undefined;
  private readonly relay = (signal: NodeJS.Signals): void => {
    if (this.child) this.child.kill(signal);
    else this.waiting.abort(signal);
  };

  constructor() {
    process.on("SIGINT", this.relay).on("SIGTERM", this.relay);
  }

  get beforeStart(): AbortSignal {
    return this.waiting.signal;
  }

  forwardTo(child: ChildProcess): void {
    this.child = child;
  }

  dispose(): void {
    process.off("SIGINT", this.relay).off("SIGTERM", this.relay);
  }
}

/** A shell's exit code for death by `signal`: 128 + its number. */
function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 15);
}
