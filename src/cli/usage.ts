/**
 * What every CLI command group shares about mistakes and hints: a usage error is one line and a
 * pointer to `--help` (exit 2), never the whole help text; a hint follows an error on stderr and
 * says what to check next. The program name is the one it was run as: `micro` inside a project,
 * `ts-micro` anywhere (`npx micro` outside a project would find an unrelated npm package).
 */
import path from "node:path";

/** A mistake in how the CLI was invoked: printed as one line and a pointer to --help, exit 2. */
export class UsageError extends Error {}

export const programName = path.basename(process.argv[1] ?? "") === "ts-micro" ? "ts-micro" : "micro";

/** Usage errors: ours, and node:util parseArgs's (unknown option, missing option value). */
export function isUsageError(err: unknown): err is Error {
  return err instanceof UsageError || (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS"));
}

export function usageErrorText(err: Error): string {
  return `${programName}: ${err.message}\nRun '${programName} --help' for usage.\n`;
}

/** A line after an error on stderr, saying what to check next. */
export function printHint(text: string): void {
  process.stderr.write(`hint: ${text}\n`);
}
