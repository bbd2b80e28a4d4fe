/**
 * Structured logging. The interface is four levels plus child loggers with bound fields. The
 * default writes to stderr so that stdout stays free for a program's output (the `micro` CLI
 * prints responses there): a human format (time, level in colour, service, message, fields) when
 * stderr is a terminal, JSON lines (pino's layout) otherwise, for log collectors. `MICRO_LOG_LEVEL` sets the
 * level, `MICRO_LOG_FORMAT=json|text` the format. Every line carries the trace and span ids of
 * the span active when it is logged, once tracing is on (see setLogContext).
 */
import { humanLine } from "./human.js";
import { jsonFields, jsonLine } from "./json.js";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
export type LogFields = Record<string, unknown>;
export type LogFormat = "json" | "text";

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

const LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

/** A level's rank: a line is written when its rank is at least the logger's. */
export function levelRank(level: LogLevel): number {
  return LEVELS.indexOf(level);
}

/** `MICRO_LOG_LEVEL`, default info (an unknown name is info as well). */
export function levelFromEnv(): LogLevel {
  const level = (process.env.MICRO_LOG_LEVEL ?? "info").toLowerCase() as LogLevel;
  return LEVELS.includes(level) ? level : "info";
}

/** `MICRO_LOG_FORMAT` (json, or text/human/pretty), else text on a terminal and JSON elsewhere. */
export function formatFromEnv(): LogFormat {
  const format = process.env.MICRO_LOG_FORMAT?.toLowerCase();
  if (format === "json") return "json";
  if (format === "text" || format === "human" || format === "pretty") return "text";
  return process.stderr.isTTY ? "text" : "json";
}

/**
 * Fields describing where the program is when a line is logged (the active trace and span).
 * One provider at a time; the tracing module installs it when tracing is on.
 */
let contextFields: (() => LogFields | undefined) | undefined;

/** Sets (or, with undefined, removes) the provider of per-line context fields. */
export function setLogContext(provider: (() => LogFields | undefined) | undefined): void {
  contextFields = provider;
}

/** The current context fields (trace_id, span_id), if any. */
export function logContext(): LogFields | undefined {
  return contextFields?.();
}

/**
 * JSON lines in pino's layout (`{"level":30,"time":…,"pid":…,…,"msg":…}`), written synchronously
 * to stderr. Written here rather than by pino: pino's modules (its worker-thread transports
 * among them) cost a service about 30 ms of start-up and 5 MB of memory for four levels and
 * bound fields. The bound fields are serialized once, when the logger is made.
 */
class JsonLogger implements Logger {
  constructor(
    private readonly rank: number,
    private readonly bound: string,
  ) {}
  debug(msg: string, fields?: LogFields): void {
    this.write("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write("error", msg, fields);
  }
  child(fields: LogFields): Logger {
    return new JsonLogger(this.rank, this.bound + jsonFields(fields));
  }
  private write(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    if (levelRank(level) < this.rank) return;
    process.stderr.write(jsonLine(level, Date.now(), this.bound, contextFields?.(), fields, msg));
  }
}

/** The human format: one coloured line per record, written synchronously to stderr. */
class TextLogger implements Logger {
  constructor(
    private readonly rank: number,
    private readonly fields: LogFields,
    private readonly colour: boolean,
  ) {}
  debug(msg: string, fields?: LogFields): void {
    this.write("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write("error", msg, fields);
  }
  child(fields: LogFields): Logger {
    return new TextLogger(this.rank, { ...this.fields, ...fields }, this.colour);
  }
  private write(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    if (levelRank(level) < this.rank) return;
    const all = { ...this.fields, ...fields, ...contextFields?.() };
    process.stderr.write(humanLine(new Date(), level, msg, all, this.colour));
  }
}

/** Creates a logger on stderr, in the format `MICRO_LOG_FORMAT` or the terminal decides. */
export function createLogger(options: { level?: LogLevel; fields?: LogFields; format?: LogFormat } = {}): Logger {
  const level = options.level ?? levelFromEnv();
  if ((options.format ?? formatFromEnv()) === "text") {
    return new TextLogger(levelRank(level), { ...options.fields }, process.stderr.isTTY === true && !process.env.NO_COLOR);
  }
  return new JsonLogger(levelRank(level), jsonFields({ pid: process.pid, ...options.fields }));
}

let defaultLogger: Logger | undefined;

/** The process-wide default logger (created on first use). */
export function logger(): Logger {
  defaultLogger ??= createLogger();
  return defaultLogger;
}

/** Replaces the process-wide default logger. */
export function setLogger(log: Logger): void {
  defaultLogger = log;
}
