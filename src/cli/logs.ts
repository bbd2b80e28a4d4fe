/**
 * `micro logs NAME [-f]`: the log of a service `micro run` started, read from the file it writes;
 * for any other service, its recent records through Go Micro's `Debug.Log`, from every node.
 */
import { debugLogsCommand } from "./debug.js";
import { RunState } from "./run/state.js";
import { logsCommand as runLogsCommand } from "./run.js";

/** Flags of either form that take a value, so that the value is not taken for the name. */
const VALUE_FLAGS = new Set(["--count", "--since", "--timeout", "--token"]);

export function logsCommand(argv: string[]): Promise<number> {
  const name = serviceName(argv);
  const startedByRun = name !== undefined && new RunState().list().some((record) => record.name === name);
  return startedByRun ? runLogsCommand(argv) : debugLogsCommand(argv);
}

function serviceName(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith("-")) return argv[i];
    if (VALUE_FLAGS.has(argv[i])) i++;
  }
  return undefined;
}
