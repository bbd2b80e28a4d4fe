/**
 * `micro store write|read|list|delete`: the records of a store from the command line. The store
 * is the one a service would use (MICRO_STORE, MICRO_STORE_ADDRESS, MICRO_STORE_DATABASE,
 * MICRO_STORE_TABLE; by default the file store in the user's data directory); `--database` and
 * `--table` override the scope. Output is for people unless `--json` is given; a failed call
 * prints its error on stderr and exits 1.
 */
import { parseArgs } from "node:util";
import { MicroError } from "../errors/errors.js";
import { resolveStore } from "../service/resolve.js";
import { DEFAULT_DATABASE, DEFAULT_TABLE, type Store, StoreNotFoundError, type StoreRecord } from "../store/store.js";
import { parseCountFlag, parseDurationFlag, parseMetadata } from "./flags.js";
import { UsageError } from "./usage.js";

const SCOPE = {
  database: { type: "string" },
  table: { type: "string" },
  json: { type: "boolean" },
} as const;

/** Each subcommand's own options: `--prefix` is a switch for read and a value for list. */
const OPTIONS = {
  write: { ...SCOPE, ttl: { type: "string" }, metadata: { type: "string", multiple: true } },
  read: { ...SCOPE, prefix: { type: "boolean" }, suffix: { type: "boolean" }, limit: { type: "string" }, offset: { type: "string" } },
  list: { ...SCOPE, prefix: { type: "string" }, suffix: { type: "string" }, limit: { type: "string" }, offset: { type: "string" } },
  delete: SCOPE,
} as const;

type Action = keyof typeof OPTIONS;

/** micro store <write|read|list|delete> … */
export async function storeCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (!isAction(action)) throw new UsageError(`store needs write, read, list or delete, not ${JSON.stringify(action ?? "")}`);
  const { values, positionals } = parseArgs({ args: rest, options: OPTIONS[action], allowPositionals: true });
  const flags = values as StoreFlags;
  const run = prepare(action, positionals, flags);
  let store: Store | undefined;
  try {
    store = resolveStore(undefined, undefined, { database: flags.database, table: flags.table });
    return await run(store);
  } catch (err) {
    return report(err, store, flags);
  } finally {
    await store?.close();
  }
}

interface StoreFlags {
  database?: string;
  table?: string;
  json?: boolean;
  ttl?: string;
  metadata?: string[];
  prefix?: boolean | string;
  suffix?: boolean | string;
  limit?: string;
  offset?: string;
}

function isAction(action: string | undefined): action is Action {
  return action !== undefined && Object.hasOwn(OPTIONS, action);
}

/** Checks the arguments before anything is opened, and returns the work to do with the store. */
function prepare(action: Action, args: string[], flags: StoreFlags): (store: Store) => Promise<number> {
  const page = { limit: parseCountFlag("limit", flags.limit), offset: parseCountFlag("offset", flags.offset) };
  switch (action) {
    case "write": {
      const [key, value] = args;
      if (key === undefined || value === undefined || args.length > 2)
        throw new UsageError("store write needs a key and a value, e.g. micro store write user/1 Alice --ttl 1h");
      const options = { ttl: parseDurationFlag("ttl", flags.ttl) };
      const metadata = parseMetadata(flags.metadata);
      return async (store) => {
        await store.write({ key, value: value === "-" ? await stdin() : value, metadata }, options);
        return 0;
      };
    }
    case "read": {
      const [key] = args;
      if (key === undefined || args.length > 1) throw new UsageError("store read needs a key (with --prefix or --suffix: the part keys start or end with)");
      const options = { prefix: flags.prefix === true, suffix: flags.suffix === true, ...page };
      return async (store) => {
        const records = await store.read(key, options);
        print(flags.json ? JSON.stringify(records.map(recordJson)) : humanRecords(records, options.prefix || options.suffix));
        return 0;
      };
    }
    case "list": {
      if (args.length > 0) throw new UsageError("store list takes no arguments; filter with --prefix, --suffix, --limit and --offset");
      const options = { prefix: flags.prefix as string | undefined, suffix: flags.suffix as string | undefined, ...page };
      return async (store) => {
        const keys = await store.list(options);
        print(flags.json ? JSON.stringify(keys) : keys.join("\n"));
        return 0;
      };
    }
    case "delete": {
      const [key] = args;
      if (key === undefined || args.length > 1) throw new UsageError("store delete needs a key");
      return async (store) => {
        await store.delete(key);
        return 0;
      };
    }
  }
}

/** A failed call: a sentence for people, or the error JSON with --json; exit 1. */
function report(err: unknown, store: Store | undefined, flags: StoreFlags): number {
  if (err instanceof UsageError) throw err;
  const error = err instanceof MicroError ? err : MicroError.from(err, "micro");
  if (flags.json) {
    process.stderr.write(`${error.toString()}\n`);
    return 1;
  }
  // Not found names where it looked; other errors (bad input, server down) speak for themselves.
  const where = () =>
    `${flags.database || process.env.MICRO_STORE_DATABASE || DEFAULT_DATABASE}/${flags.table || process.env.MICRO_STORE_TABLE || DEFAULT_TABLE}`;
  const what = err instanceof StoreNotFoundError ? `${error.detail} in ${where()} of the ${store?.name} store` : error.detail;
  process.stderr.write(`micro: ${what}\n`);
  return 1;
}

/** A record as JSON: the value as text when it is UTF-8, else base64 with `"base64": true`. */
function recordJson(record: StoreRecord): Record<string, unknown> {
  const text = utf8(record.value);
  return {
    key: record.key,
    ...(text === undefined ? { value: Buffer.from(record.value).toString("base64"), base64: true } : { value: text }),
    metadata: record.metadata,
    ...(record.expiry === undefined ? {} : { expiry: record.expiry }),
  };
}

/**
 * One exact record prints its value as it is; matches of a prefix or suffix print one
 * `key<TAB>value` line each, with a value that would break the line shown as a JSON string.
 */
function humanRecords(records: StoreRecord[], many: boolean): string {
  if (!many) return utf8(records[0].value) ?? Buffer.from(records[0].value).toString("base64");
  return records
    .map((record) => {
      const text = utf8(record.value);
      const shown = text === undefined ? `base64:${Buffer.from(record.value).toString("base64")}` : /\p{Cc}/u.test(text) ? JSON.stringify(text) : text;
      return `${record.key}\t${shown}`;
    })
    .join("\n");
}

function utf8(value: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(value);
  } catch {
    return undefined;
  }
}

function print(text: string): void {
  if (text !== "") process.stdout.write(`${text}\n`);
}

/** `micro store write KEY -`: the value is stdin, byte for byte. */
async function stdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
