/**
 * Durations as people write them in config files, flags and env vars. One parser for the whole
 * framework: the service's `MICRO_*` settings, the CLI's `--timeout` and config getters use it.
 */

/** Go's units; microseconds also as `µs` (micro sign, U+00B5) and `μs` (Greek mu, U+03BC), as Go takes both. */
const UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, "\u00b5s": 1e-3, "\u03bcs": 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds in `text`: `500ms`, `5s`, `2m`, `1h30m` (Go's time.ParseDuration units, combined
 * as Go allows), or a plain number of seconds (Go Micro's flags). Undefined when it is none of these.
 */
export function parseDuration(text: string): number | undefined {
  // µ and μ as escapes: one character outside ASCII in a module makes V8 hold and scan the whole
  // bundled file as two-byte text, slower to decode and scan at every start.
  const trimmed = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return Number(trimmed) * UNIT_MS.s;
  if (!/^(?:\d+(?:\.\d+)?(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/g)) total += Number(amount) * UNIT_MS[unit];
  return total;
}
