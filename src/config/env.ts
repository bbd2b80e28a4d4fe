/**
 * Environment variables as config, mapped as Go Micro maps them: lower-cased and split on `_`,
 * so `DATABASE_SERVER_HOST=x` is `database.server.host`. A double underscore is a literal one
 * (`DB_MAX__CONNS` → `db.max_conns`), which Go Micro cannot express. Whole numbers and
 * `true`/`false` are typed as Go Micro types them.
 */
import type { ConfigObject, Source } from "./config.js";
import { assign, isObject, typedScalar } from "./tree.js";

export interface EnvSourceOptions {
  /** Only variables starting with one of these (`APP_`; an `_` is added if missing). Default: every variable. */
  prefix?: string | string[];
  /** Keep the prefix in the path (`APP_PORT` → `app.port`) instead of stripping it (→ `port`, the default). */
  keepPrefix?: boolean;
  /** The variables to read. Default `process.env`, read at each load. */
  env?: NodeJS.ProcessEnv;
}

export class EnvSource implements Source {
  readonly name: string;
  private readonly prefixes: string[];

  constructor(private readonly options: EnvSourceOptions = {}) {
    const given = options.prefix === undefined ? [] : [options.prefix].flat();
    this.prefixes = given.map((p) => (p.endsWith("_") ? p : `${p}_`));
    this.name = this.prefixes.length > 0 ? `env:${this.prefixes.join(",")}` : "env";
  }

  /** The tree now; synchronous, since the environment is in memory. */
  readNow(): ConfigObject {
    let tree: ConfigObject = {};
    const env = this.options.env ?? process.env;
    // Sorted, so that of APP_DB=x and APP_DB_HOST=y the longer one's object wins, whatever the order of env.
    for (const key of Object.keys(env).sort()) {
      const value = env[key];
      if (value === undefined) continue;
      const path = this.pathOf(key);
      if (path && !(path.length > 0 && blocked(tree, path))) tree = assign(tree, path, typedScalar(value));
    }
    return tree;
  }

  async read(): Promise<ConfigObject> {
    return this.readNow();
  }

  private pathOf(key: string): string[] | undefined {
    let rest = key;
    if (this.prefixes.length > 0) {
      const prefix = this.prefixes.find((p) => key.startsWith(p));
      if (!prefix) return undefined;
      if (!this.options.keepPrefix) rest = key.slice(prefix.length);
    }
    const segments = rest
      .toLowerCase()
      .split(/(?<!_)_(?!_)/)
      .map((segment) => segment.replaceAll("__", "_"))
      .filter(Boolean);
    return segments.length > 0 ? segments : undefined;
  }
}

/** Whether a shorter variable's object already sits at `path` (APP_DB after APP_DB_HOST: keep the object). */
function blocked(tree: ConfigObject, path: string[]): boolean {
  let node: unknown = tree;
  for (const segment of path) {
    if (!isObject(node)) return false;
    node = node[segment];
  }
  return isObject(node);
}

/** Environment variables as config; see EnvSourceOptions. */
export function env(options: EnvSourceOptions = {}): EnvSource {
  return new EnvSource(options);
}
