/**
 * What every `micro` command shares in reading its command line: the parsing of flag values used
 * by more than one command (a bad value is a UsageError, see usage.ts).
 */
import { parseDuration } from "../config/duration.js";
import { UsageError } from "./usage.js";

/** Repeated `--metadata key=value` flags as an object. */
export function parseMetadata(pairs: string[] | undefined): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--metadata ${pair}: expected key=value`);
    metadata[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return metadata;
}

/** The value of `--<flag>` as milliseconds (`500ms`, `5s`, `2m`; a plain number is seconds). */
export function parseDurationFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined) throw new UsageError(`--${flag} ${text} is not a duration (e.g. 500ms, 5s, 2m)`);
  return ms;
}

/** The value of `--<flag>` as a whole number ≥ 0. */
export function parseCountFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${flag} ${text} is not a whole number`);
  return Number(text);
}
