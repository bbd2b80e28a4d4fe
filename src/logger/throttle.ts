/**
 * Rate-limited log lines, for events a remote peer can repeat thousands of times a second
 * (limit hits, garbage input): logging each one would let a peer flood the log and burn CPU. The
 * first line of a kind (its message text) is written at once; further lines of that kind within
 * `interval` ms are counted, and the next line written says how many were left out.
 */
import type { LogFields, Logger } from "./logger.js";

export type ThrottledLevel = "debug" | "info" | "warn" | "error";

/** Writes `msg` with `fields`, at most once per interval per distinct `msg`. */
export type ThrottledLog = (msg: string, fields?: LogFields) => void;

/** Kinds remembered at once; past this many the oldest is forgotten (a bound, whatever callers pass). */
const MAX_KINDS = 256;

interface Kind {
  /** When the last line of this kind was written (ms since the epoch). */
  last: number;
  /** Lines of this kind left out since then. */
  suppressed: number;
}

/**
 * `interval` 0 writes every line (tests that count log lines use it). Messages should be fixed
 * strings with the variable parts in `fields`: each distinct message is remembered.
 */
export function throttledLog(log: Logger, level: ThrottledLevel = "warn", interval = 10_000): ThrottledLog {
  const kinds = new Map<string, Kind>();
  return (msg, fields) => {
    if (interval <= 0) return log[level](msg, fields);
    const now = Date.now();
    const kind = kinds.get(msg);
    if (kind && now - kind.last < interval) {
      kind.suppressed++;
      return;
    }
    const suppressed = kind?.suppressed ?? 0;
    if (kind) kinds.delete(msg); // re-inserted last: a Map iterates oldest first
    else if (kinds.size >= MAX_KINDS) kinds.delete(kinds.keys().next().value!);
    kinds.set(msg, { last: now, suppressed: 0 });
    log[level](msg, suppressed > 0 ? { ...fields, suppressed, suppressedOverMs: now - kind!.last } : fields);
  };
}
