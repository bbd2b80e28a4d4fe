/** Loggers for tests: one that says nothing, one that keeps what is said for asserts. */
import type { Logger } from "../../src/logger/logger.js";

/** Discards every line, so a test's output shows only the test runner's report. */
export const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

/** Appends every warning and error (message and fields as JSON) to `lines`; drops debug and info. */
export function recordingLogger(lines: string[]): Logger {
  const log: Logger = {
    debug: () => {},
    info: () => {},
    warn: (msg, fields) => lines.push(`${msg} ${JSON.stringify(fields)}`),
    error: (msg, fields) => lines.push(`${msg} ${JSON.stringify(fields)}`),
    child: () => log,
  };
  return log;
}

/** Keeps every warning and error with its fields, for asserting what was logged and with which peer. */
export class LogRecorder implements Logger {
  readonly lines: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  debug(): void {}
  info(): void {}
  warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ msg, fields });
  }
  error(msg: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ msg, fields });
  }
  child(): Logger {
    return this;
  }
  /** The first line whose message contains `text`. */
  find(text: string): { msg: string; fields: Record<string, unknown> } | undefined {
    return this.lines.find((line) => line.msg.includes(text));
  }
}
