/**
 * Where the greeter's config comes from, later sources winning over earlier ones:
 *
 * 1. the default, `greeting: Hello`;
 * 2. `config.json` and `config.yaml` in the directory the service starts in, if there;
 * 3. the file named by `MICRO_CONFIG_FILE` (JSON, YAML or TOML), which must exist if named;
 * 4. env vars starting with `GREETER_` (`GREETER_GREETING=Hi` → `greeting`);
 * 5. etcd or NATS KV when `MICRO_CONFIG=etcd|nats` (at `MICRO_CONFIG_ADDRESS`), which
 *    `micro config set greeting Hi` changes for every running greeter at once;
 * 6. command-line flags (`--greeting Hi`, and framework flags such as `--registry etcd`).
 *
 * Files, etcd and NATS are watched: a change applies without a restart.
 */
import { type Config, type ConfigSource, env, file, flags, loadConfig, memory, resolveConfigSource } from "ts-micro";

export async function loadGreeterConfig(): Promise<Config> {
  const sources: ConfigSource[] = [memory({ greeting: "Hello" }), file("config.json", { optional: true }), file("config.yaml", { optional: true })];
  if (process.env.MICRO_CONFIG_FILE) sources.push(file(process.env.MICRO_CONFIG_FILE));
  sources.push(env({ prefix: "GREETER" }));
  const shared = resolveConfigSource();
  if (shared) sources.push(shared);
  sources.push(flags());
  return loadConfig(...sources);
}
