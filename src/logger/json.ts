/**
 * The JSON log format, pino's layout, so that collectors and tools made for pino read it:
 * `{"level":30,"time":1700000000000,"pid":7,"service":"orders","msg":"service started"}`, level
 * as pino's number, time in ms since the epoch, then bound fields, context fields (trace ids),
 * the line's fields, and the message.
 */
import type { LogFields, LogLevel } from "./logger.js";

const PINO_LEVELS: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** One line, newline included; `bound` is already serialized by jsonFields. */
export function jsonLine(level: LogLevel, time: number, bound: string, context: LogFields | undefined, fields: LogFields | undefined, msg: string): string {
  let line = `{"level":${PINO_LEVELS[level]},"time":${time}${bound}`;
  if (context) line += jsonFields(context);
  if (fields) line += jsonFields(fields);
  return `${line},"msg":${JSON.stringify(msg)}}\n`;
}

/** `,"key":value` for each field that has a value (an Error as pino serializes one, see errorFields). */
export function jsonFields(fields: LogFields): string {
  let text = "";
  for (const key in fields) {
    const value = fields[key];
    if (value === undefined) continue;
    text += `,${JSON.stringify(key)}:${jsonValue(value)}`;
  }
  return text;
}

function jsonValue(value: unknown): string {
  try {
    return JSON.stringify(value instanceof Error ? errorFields(value, 0) : value) ?? "null";
  } catch {
    // A cycle or a BigInt: the line is still written, with the value as text.
    return JSON.stringify(String(value));
  }
}

/** Causes followed at most this deep (a cause chain may loop back on itself). */
const MAX_CAUSES = 4;

/**
 * An Error as pino serializes one: type, message and stack, then its own fields (a MicroError's
 * id, code, detail and status, which say more than its message) and its cause.
 */
function errorFields(err: Error, depth: number): Record<string, unknown> {
  const { name: _name, message, stack, ...own } = err as Error & Record<string, unknown>;
  const fields: Record<string, unknown> = { type: err.name, message, stack, ...own };
  if (err.cause !== undefined && depth < MAX_CAUSES) fields.cause = err.cause instanceof Error ? errorFields(err.cause, depth + 1) : err.cause;
  return fields;
}
