/**
 * Command-line flags as config: `--database-host=x` and `--database.host x` are both
 * `database.host`. An underscore stays part of the name, so Go Micro's framework flags keep their
 * names (`--registry etcd --registry_address x` are the keys `registry` and `registry_address`,
 * where splitting on `_` as Go Micro's flag source does would make one overwrite the other). A flag without a value
 * (`--verbose`, or followed by another flag) is `true`; `--no-verbose` is `false`. Values are
 * typed as env values are; a repeated flag becomes a list. Arguments after `--` are not read.
 */
import { ConfigError, type ConfigObject, type Source } from "./config.js";
import { assign, lookup, typedScalar } from "./tree.js";

export interface FlagsSourceOptions {
  /** The arguments. Default `process.argv.slice(2)`. */
  args?: string[];
}

export class FlagsSource implements Source {
  readonly name = "flags";

  constructor(private readonly options: FlagsSourceOptions = {}) {}

  /** The tree now; synchronous, since the arguments are in memory. */
  readNow(): ConfigObject {
    const args = this.options.args ?? process.argv.slice(2);
    let tree: ConfigObject = {};
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (arg === "--") break;
      if (!/^--?[A-Za-z]/.test(arg)) continue;
      const body = arg.replace(/^--?/, "");
      const eq = body.indexOf("=");
      let name = eq >= 0 ? body.slice(0, eq) : body;
      let value: unknown;
      if (eq >= 0) value = typedScalar(body.slice(eq + 1));
      else if (i + 1 < args.length && !args[i + 1].startsWith("-")) value = typedScalar(args[++i]);
      else if (name.startsWith("no-")) {
        name = name.slice(3);
        value = false;
      } else value = true;
      const path = this.pathOf(name);
      const earlier = lookup(tree, path);
      tree = assign(tree, path, earlier === undefined ? value : [earlier, value].flat());
    }
    return tree;
  }

  async read(): Promise<ConfigObject> {
    return this.readNow();
  }

  private pathOf(name: string): string[] {
    const path = name.toLowerCase().split(/[-.]/).filter(Boolean);
    if (path.length === 0) throw new ConfigError(`flag --${name} has no name`);
    return path;
  }
}

/** Command-line flags as config; see FlagsSourceOptions. */
export function flags(options: FlagsSourceOptions = {}): FlagsSource {
  return new FlagsSource(options);
}
