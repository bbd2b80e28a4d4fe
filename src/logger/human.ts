/**
 * The human log format, for a terminal: `12:04:05.123 INFO  orders  service started  id=… port=…`.
 * The level is coloured (ANSI) when asked, the service (a `service` field) stands before the
 * message, and the remaining fields follow as key=value, strings quoted only when they need it.
 */
import type { LogFields, LogLevel } from "./logger.js";

const COLOURS: Partial<Record<LogLevel, string>> = { trace: "90", debug: "36", info: "32", warn: "33", error: "31", fatal: "35" };
const DIM = "2";

function paint(text: string, code: string | undefined, colour: boolean): string {
  return colour && code ? `\u001b[${code}m${text}\u001b[0m` : text;
}

/** One line, newline included. */
export function humanLine(time: Date, level: LogLevel, msg: string, fields: LogFields, colour: boolean): string {
  const { service, ...rest } = fields;
  const clock = time.toISOString().slice(11, 23);
  let line = `${paint(clock, DIM, colour)} ${paint(level.toUpperCase().padEnd(5), COLOURS[level], colour)}`;
  if (service !== undefined) line += ` ${paint(String(service), "1", colour)}`;
  line += `  ${msg}`;
  for (const key in rest) {
    const value = rest[key];
    if (value === undefined) continue;
    line += `  ${paint(`${key}=`, DIM, colour)}${fieldText(value)}`;
  }
  return `${line}\n`;
}

function fieldText(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value instanceof Error) return JSON.stringify(value.stack ?? value.message);
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return "[unserialisable]";
    }
  }
  return String(value);
}
