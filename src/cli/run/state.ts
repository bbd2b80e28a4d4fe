/**
 * What `micro run` started, for `micro status` and `micro logs`: one JSON record per service and a
 * log file, in the run directory. That is `MICRO_RUN_DIR`, else `run/` beside the host-local
 * registry's directory (`$XDG_RUNTIME_DIR/micro/run`, else `<tmpdir>/micro-<uid>/run`): per user,
 * and, like the registry, not surviving a logout or reboot, when no process does either.
 *
 * A service is known by its name and the hash of its directory, so two projects with a service of
 * the same name keep separate records and logs (as Go Micro's `~/micro/run/<name>-<hash>.pid`).
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { defaultLocalRegistryPath } from "../../registry/local.js";

export type RunStatus = "starting" | "running" | "exited" | "stopped";

export interface RunRecord {
  name: string;
  dir: string;
  /** The service's process, while it runs. */
  pid: number;
  /** The `micro run` process that supervises it. */
  runner: number;
  log: string;
  /** ISO time of the last (re)start. */
  started: string;
  status: RunStatus;
  /** The exit code (or signal) of the last process, once it exited. */
  exit?: string;
  restarts: number;
  /** The spare process preloaded for the next restart (run/standby.ts), once there is one. */
  standby?: number;
}

export function runDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return env.MICRO_RUN_DIR || path.join(path.dirname(defaultLocalRegistryPath(env)), "run");
}

export class RunState {
  constructor(readonly dir: string = runDirectory()) {
    fs.mkdirSync(path.join(dir, "logs"), { recursive: true, mode: 0o700 });
  }

  /** The key of a service: its name and a hash of its directory. */
  key(name: string, dir: string): string {
    return `${name}-${createHash("sha256").update(dir).digest("hex").slice(0, 8)}`;
  }

  logFile(name: string, dir: string): string {
    return path.join(this.dir, "logs", `${this.key(name, dir)}.log`);
  }

  /** Replaces the record (write then rename, so a reader never sees half of one). */
  write(record: RunRecord): void {
    const file = path.join(this.dir, `${this.key(record.name, record.dir)}.json`);
    const temp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(temp, file);
  }

  /** Every record, newest start first. Unreadable files are skipped: they are being replaced. */
  list(): RunRecord[] {
    const records: RunRecord[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      if (!name.endsWith(".json")) continue;
      try {
        records.push(JSON.parse(fs.readFileSync(path.join(this.dir, name), "utf8")) as RunRecord);
      } catch {
        // Removed or replaced between the listing and the read.
      }
    }
    return records.sort((a, b) => b.started.localeCompare(a.started));
  }
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * What `micro status` shows for a record: a record says running while its supervisor lives; if
 * the process is gone without the supervisor having recorded it (killed with it), it is "gone".
 */
export function effectiveStatus(record: RunRecord): string {
  if (record.status === "running" || record.status === "starting") return isAlive(record.pid) ? record.status : "gone";
  return record.exit !== undefined ? `${record.status} (${record.exit})` : record.status;
}
