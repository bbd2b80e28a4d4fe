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

/** `,"key":value` for each field that has a value (an Error as pino serializes one: type, message, stack). */
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
  if (value instanceof Error) return JSON.stringify({ type: value.name, message: value.message, stack: value.stack });
  try {
    return JSON.stringify(value) ?? "null";
  } catch {
    // A cycle or a BigInt: the line is still written, with the value as text.
    return JSON.stringify(String(value));
  }
}
