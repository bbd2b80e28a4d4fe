/**
 * Framework settings (which registry, broker, transport, store, sync; the server's name, address,
 * TTLs…) from a service's config, under Go Micro's flag names: `--registry etcd
 * --registry_address 10.0.0.1:2379` on the command line, or `registry: etcd` and
 * `registry_address: …` at the top level of a config file. Code options win over config, and
 * config over the `MICRO_*` env vars, which keep working as before.
 */
import type { Config } from "../config/config.js";
import { parseDuration } from "../config/duration.js";
import { FlagsSource } from "../config/flags.js";
import { loadConfigSync } from "../config/load.js";

/**
 * The config a service reads when none is given: its command-line flags, read once. Not every env
 * var: unprefixed names (`STORE=…`, `SYNC=…`) would turn into framework settings by accident;
 * the `MICRO_*` vars are read as they always were.
 */
export function defaultServiceConfig(): Config {
  return loadConfigSync(new FlagsSource());
}

/**
 * The mux and http transports' own settings (TLS, see transportTlsFromEnv; mux header references,
 * see resolveTransport): ts-micro's own, Go Micro has none.
 */
const TRANSPORT_SETTINGS = [
  "transport_secure",
  "tls_cert",
  "tls_key",
  "tls_ca",
  "tls_client_auth",
  "tls_server_name",
  "tls_verify_service",
  "mux_header_refs",
] as const;

/** Go Micro flag names a service reads from its config, with the env var each stands in for. */
export const FRAMEWORK_SETTINGS = [
  "server",
  "server_name",
  "server_version",
  "server_id",
  "server_address",
  "server_advertise",
  "server_metadata",
  "server_grace",
  "register_ttl",
  "register_interval",
  "registry",
  "registry_address",
  "registry_verify",
  "transport",
  "transport_address",
  "broker",
  "broker_address",
  "store",
  "store_address",
  "store_database",
  "store_table",
  "sync",
  "sync_address",
  "auth",
  "auth_token_expiry",
  ...TRANSPORT_SETTINGS,
  "selector",
  "health_address",
  "client_request_timeout",
  "client_retries",
  "client_attempt_timeout",
  "client_retry_budget",
  "client_breaker",
  "server_concurrency",
  "server_queue",
  "server_rate_limits",
] as const;

export type FrameworkSetting = (typeof FRAMEWORK_SETTINGS)[number];

/** Reads framework settings from a config, falling back to the env var (`MICRO_<NAME>`). */
export class Settings {
  constructor(private readonly config?: Config) {}

  /**
   * The config's value as text; undefined when the config does not set it. A list is joined with
   * commas (several addresses). An object counts only for `server_metadata`: elsewhere it is the
   * application's own section that happens to share a name (`store: { … }`), not a setting.
   */
  fromConfig(name: FrameworkSetting): string | undefined {
    const value = this.config?.get(name);
    if (value === undefined || value === null || value === "") return undefined;
    if (Array.isArray(value)) return value.join(",");
    if (typeof value === "object") return name === "server_metadata" ? pairs(value as Record<string, unknown>) : undefined;
    return String(value);
  }

  /** The config's value, else the env var's. */
  text(name: FrameworkSetting): string | undefined {
    return this.fromConfig(name) ?? (process.env[`MICRO_${name.toUpperCase()}`] || undefined);
  }

  /** The transport settings under their env var names, the config's value first (for resolveTransport, transportTlsFromEnv). */
  transportEnv(): Record<string, string | undefined> {
    return Object.fromEntries(TRANSPORT_SETTINGS.map((name) => [`MICRO_${name.toUpperCase()}`, this.text(name)]));
  }

  /** Milliseconds: a plain number is seconds (Go Micro's flags), or `500ms`, `5s`, `2m`. */
  duration(name: FrameworkSetting): number | undefined {
    const raw = this.text(name);
    if (raw === undefined) return undefined;
    const ms = parseDuration(raw);
    if (ms === undefined) throw new Error(`${name} (MICRO_${name.toUpperCase()}) = ${JSON.stringify(raw)} is not a duration (use seconds, or 500ms, 5s, 2m)`);
    return ms;
  }

  /** A number from 0 to 1 (a share). */
  ratio(name: FrameworkSetting): number | undefined {
    const raw = this.text(name);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0 || value > 1)
      throw new Error(`${name} (MICRO_${name.toUpperCase()}) = ${JSON.stringify(raw)} is not a share from 0 to 1`);
    return value;
  }

  /** `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`). */
  flag(name: FrameworkSetting): boolean | undefined {
    const raw = this.text(name)?.toLowerCase();
    if (raw === undefined) return undefined;
    if (["true", "1", "yes", "on"].includes(raw)) return true;
    if (["false", "0", "no", "off"].includes(raw)) return false;
    throw new Error(`${name} (MICRO_${name.toUpperCase()}) = ${JSON.stringify(raw)} is not true or false`);
  }

  /** `Greeter.Hello=100:200,*=1000`: calls a second (and a burst) by endpoint. */
  rates(name: FrameworkSetting): Record<string, { rate: number; burst?: number }> | undefined {
    const raw = this.text(name);
    if (!raw) return undefined;
    const out: Record<string, { rate: number; burst?: number }> = {};
    for (const item of raw.split(",")) {
      const match = /^\s*([^=\s]+)\s*=\s*([\d.]+)(?::([\d.]+))?\s*$/.exec(item);
      if (!match || !(Number(match[2]) > 0)) {
        throw new Error(
          `${name} (MICRO_${name.toUpperCase()}): ${JSON.stringify(item)} is not <endpoint>=<calls a second>[:<burst>], e.g. Greeter.Hello=100:200`,
        );
      }
      out[match[1]] = { rate: Number(match[2]), ...(match[3] !== undefined ? { burst: Number(match[3]) } : {}) };
    }
    return out;
  }

  whole(name: FrameworkSetting): number | undefined {
    const raw = this.text(name);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0) throw new Error(`${name} (MICRO_${name.toUpperCase()}) = ${JSON.stringify(raw)} is not a whole number`);
    return value;
  }

  /** `a=1,b=2` (or an object in the config) → `{a: "1", b: "2"}`. */
  metadata(name: FrameworkSetting): Record<string, string> | undefined {
    const raw = this.text(name);
    if (!raw) return undefined;
    const out: Record<string, string> = {};
    for (const pair of raw.split(",")) {
      const eq = pair.indexOf("=");
      if (eq > 0) out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
    }
    return out;
  }
}

function pairs(map: Record<string, unknown>): string {
  return Object.entries(map)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(",");
}
