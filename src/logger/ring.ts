/**
 * The recent log records of a process, kept in a ring of bounded size for Go Micro's `Debug.Log`
 * (`micro logs SERVICE [-f]`): a reader asks for the last N records or those since a time, and
 * may follow new ones as they are logged. A follower that reads slower than records arrive loses
 * the oldest unread ones (it is told how many), so a stalled reader can never grow memory.
 */
import { type LogFields, type Logger, type LogLevel, levelFromEnv, levelRank, logContext } from "./logger.js";

/** Go Micro's `debug.Record`: unix seconds, string metadata (level, fields, trace ids), the message. */
export interface LogRecord {
  timestamp: number;
  metadata: Record<string, string>;
  message: string;
}

export interface ReadOptions {
  /** At most this many, the newest (0 or absent: all kept). */
  count?: number;
  /** Only records logged at or after this unix time, in seconds (0 or absent: any). */
  since?: number;
}

/** Go Micro's in-memory log keeps 1024 records by default. */
export const DEFAULT_RING_SIZE = 1024;

interface Follower {
  queue: LogRecord[];
  dropped: number;
  wake: (() => void) | undefined;
}

export class LogRing {
  private readonly records: (LogRecord | undefined)[];
  /** Total records ever written; the next one goes to `written % size`. */
  private written = 0;
  private readonly followers = new Set<Follower>();
  private closed = false;

  constructor(readonly size = DEFAULT_RING_SIZE) {
    if (!(Number.isInteger(size) && size > 0)) throw new RangeError(`log ring size must be a positive integer (got ${size})`);
    this.records = new Array(size);
  }

  write(record: LogRecord): void {
    this.records[this.written % this.size] = record;
    this.written++;
    for (const follower of this.followers) {
      if (follower.queue.length >= this.size) {
        follower.queue.shift();
        follower.dropped++;
      }
      follower.queue.push(record);
      follower.wake?.();
    }
  }

  /** The kept records, oldest first, filtered by `since` and limited to the newest `count`. */
  read(options: ReadOptions = {}): LogRecord[] {
    const kept = Math.min(this.written, this.size);
    const out: LogRecord[] = [];
    for (let i = this.written - kept; i < this.written; i++) {
      const record = this.records[i % this.size]!;
      if (!options.since || record.timestamp >= options.since) out.push(record);
    }
    return options.count && options.count > 0 ? out.slice(-options.count) : out;
  }

  /**
   * The kept records that `backlog` selects (none without it), then those logged from now on,
   * until `signal` aborts or the ring closes: read and followed in one step, so none falls in
   * between. A follower that fell behind by more than the ring's size gets a record saying how
   * many it missed.
   */
  async *follow(signal: AbortSignal, backlog?: ReadOptions): AsyncGenerator<LogRecord> {
    if (this.closed || signal.aborted) return;
    const follower: Follower = { queue: backlog ? this.read(backlog) : [], dropped: 0, wake: undefined };
    this.followers.add(follower);
    const stop = (): void => follower.wake?.();
    signal.addEventListener("abort", stop, { once: true });
    try {
      while (!signal.aborted && !this.closed) {
        if (follower.queue.length === 0) {
          await new Promise<void>((resolve) => {
            follower.wake = resolve;
          });
          follower.wake = undefined;
          continue;
        }
        if (follower.dropped > 0) {
          const missed = follower.dropped;
          follower.dropped = 0;
          yield {
            timestamp: Math.floor(Date.now() / 1000),
            metadata: { level: "warn", missed: String(missed) },
            message: `${missed} log records were dropped: the reader fell behind`,
          };
        }
        yield follower.queue.shift()!;
      }
    } finally {
      signal.removeEventListener("abort", stop);
      this.followers.delete(follower);
    }
  }

  /** Ends every follower (a stopping service must not wait for `micro logs -f` readers). */
  close(): void {
    this.closed = true;
    for (const follower of this.followers) follower.wake?.();
  }
}

/**
 * A logger that writes every record at or above `level` to `ring` as well as to `inner`: what a
 * service logs through `service.log` (and the framework logs for it) is what `Debug.Log` returns.
 */
export function recordingLogger(inner: Logger, ring: LogRing, level: LogLevel = levelFromEnv(), fields: LogFields = {}): Logger {
  const rank = levelRank(level);
  const record = (lvl: LogLevel, msg: string, extra: LogFields | undefined): void => {
    if (levelRank(lvl) < rank) return;
    ring.write({ timestamp: Math.floor(Date.now() / 1000), metadata: recordMetadata(lvl, fields, extra), message: msg });
  };
  return {
    debug(msg, extra) {
      record("debug", msg, extra);
      inner.debug(msg, extra);
    },
    info(msg, extra) {
      record("info", msg, extra);
      inner.info(msg, extra);
    },
    warn(msg, extra) {
      record("warn", msg, extra);
      inner.warn(msg, extra);
    },
    error(msg, extra) {
      record("error", msg, extra);
      inner.error(msg, extra);
    },
    child(more) {
      return recordingLogger(inner.child(more), ring, level, { ...fields, ...more });
    },
  };
}

/** Go Micro's record metadata is a string map: every field as text, objects as JSON. */
function recordMetadata(level: LogLevel, bound: LogFields, extra: LogFields | undefined): Record<string, string> {
  const metadata: Record<string, string> = { level };
  const all = { ...bound, ...extra, ...logContext() };
  for (const key in all) {
    const value = all[key];
    if (value === undefined) continue;
    metadata[key] = typeof value === "string" ? value : value instanceof Error ? (value.stack ?? value.message) : safeJson(value);
  }
  return metadata;
}

function safeJson(value: unknown): string {
  try {
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  } catch {
    return String(value);
  }
}
