/**
 * `micro config get|set|dump`: the shared config a system's services watch, in etcd or NATS KV,
 * chosen as services choose it: MICRO_CONFIG (`etcd` or `nats`) at MICRO_CONFIG_ADDRESS, with
 * MICRO_CONFIG_PREFIX (etcd), MICRO_CONFIG_BUCKET (nats) and MICRO_CONFIG_KEY. A set is seen by
 * every service watching, without a restart.
 */
import type { WritableSource } from "../config/config.js";
import { lookup, splitPath } from "../config/tree.js";
import { resolveConfigSource } from "../service/resolve.js";
import { UsageError } from "./usage.js";

export const CONFIG_USAGE = `  config get <path> [--json]            print the value at a dotted path (text as is; --json: always JSON)
  config set <path> <value>             set a value; JSON (5, true, {"a":1}) or else text
  config dump                           print the whole config as JSON`;

/** micro config get|set|dump … */
export async function configCommand(args: string[], flags: { json?: boolean }): Promise<number> {
  const [action, path, value] = args;
  const source = resolveConfigSource();
  if (!source) throw new UsageError("micro config needs MICRO_CONFIG=etcd or MICRO_CONFIG=nats (and MICRO_CONFIG_ADDRESS)");
  try {
    switch (action) {
      case "get":
        if (path === undefined) throw new UsageError("config get needs a path, e.g. micro config get database.host");
        return await get(source, path, flags.json === true);
      case "set":
        if (path === undefined || value === undefined) throw new UsageError("config set needs a path and a value, e.g. micro config set greeting Hi");
        await source.set(path, parseValue(value));
        return 0;
      case "dump":
        process.stdout.write(`${JSON.stringify((await source.read()) ?? {}, null, 2)}\n`);
        return 0;
      default:
        throw new UsageError(`config needs get, set or dump${action ? `, not ${JSON.stringify(action)}` : ""}`);
    }
  } finally {
    await source.close?.();
  }
}

async function get(source: WritableSource, path: string, json: boolean): Promise<number> {
  const value = lookup((await source.read()) ?? {}, splitPath(path));
  if (value === undefined) {
    process.stderr.write(`${path}: not set in ${source.name}\n`);
    return 1;
  }
  process.stdout.write(`${typeof value === "string" && !json ? value : JSON.stringify(value)}\n`);
  return 0;
}

/** JSON when the text is JSON (`5`, `true`, `{"a":1}`), else the text itself (`Hello`). */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
