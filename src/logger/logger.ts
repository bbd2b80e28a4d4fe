/**
 * Structured logging. The interface is four levels plus child loggers with bound fields; the
 * default writes JSON lines (pino) to stderr so that stdout stays free for a program's output
 * (the `micro` CLI prints responses there). The level comes from `MICRO_LOG_LEVEL`.
 */
import { pino } from "pino";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

const LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

function levelFromEnv(): LogLevel {
  const level = (process.env.MICRO_LOG_LEVEL ?? "info").toLowerCase() as LogLevel;
  return LEVELS.includes(level) ? level : "info";
}

class PinoLogger implements Logger {
  constructor(private readonly log: pino.Logger) {}
  debug(msg: string, fields?: LogFields): void {
    if (fields) this.log.debug(fields, msg);
    else this.log.debug(msg);
  }
  info(msg: string, fields?: LogFields): void {
    if (fields) this.log.info(fields, msg);
    else this.log.info(msg);
  }
  warn(msg: string, fields?: LogFields): void {
    if (fields) this.log.warn(fields, msg);
    else this.log.warn(msg);
  }
  error(msg: string, fields?: LogFields): void {
    if (fields) this.log.error(fields, msg);
    else this.log.error(msg);
  }
  child(fields: LogFields): Logger {
    return new PinoLogger(this.log.child(fields));
  }
}

/** Creates a JSON-lines logger on stderr. */
export function createLogger(options: { level?: LogLevel; fields?: LogFields } = {}): Logger {
  const log = pino({ level: options.level ?? levelFromEnv(), base: { pid: process.pid, ...options.fields } }, pino.destination({ fd: 2, sync: true }));
  return new PinoLogger(log);
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
