/**
 * A log line per kind of event at most once per interval: for events a peer can trigger at will
 * (a limit reached, a malformed frame), where a line per event would let one client flood the
 * log. The first event of a kind is logged at once, with its peer; repeats within the interval
 * are counted and the count goes out with the next line of that kind.
 */
import type { LogFields, Logger } from "./logger.js";

/** Kinds remembered at once; past this many, the oldest are forgotten (an attacker picks kinds). */
const MAX_KINDS = 256;

interface Seen {
  at: number;
  suppressed: number;
}

export class RateLimitedLog {
  private readonly seen = new Map<string, Seen>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  /** Logs `msg` unless an event of the same `kind` (by default, the same message) was logged within the interval. */
  warn(msg: string, fields: LogFields, kind = msg): void {
    this.write("warn", msg, fields, kind);
  }

  debug(msg: string, fields: LogFields, kind = msg): void {
    this.write("debug", msg, fields, kind);
  }

  private write(level: "warn" | "debug", msg: string, fields: LogFields, kind: string): void {
    const now = Date.now();
    const seen = this.seen.get(kind);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    this.log[level](msg, seen?.suppressed ? { ...fields, suppressed: seen.suppressed } : fields);
    if (seen)
      this.seen.delete(kind); // re-inserted last: the Map's order is oldest first
    else if (this.seen.size >= MAX_KINDS) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(kind, { at: now, suppressed: 0 });
  }
}
