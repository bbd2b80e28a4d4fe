/**
 * The Config implementation: reads every source, merges them in order, and keeps the result
 * current. An update is applied whole or not at all: the changed source is read again, the merge
 * is computed and validated aside, and only a valid result replaces the values in force. Reads
 * go through a per-path cache that every update clears, so `get` on a hot path costs one keyed lookup.
 */
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import {
  type Config,
  type ConfigChange,
  ConfigError,
  type ConfigObject,
  ConfigTypeError,
  type ConfigValue,
  type DurationValue,
  type Source,
  type Unwatch,
} from "./config.js";
import { parseDuration } from "./duration.js";
import { type StandardSchemaV1, validate } from "./schema.js";
import { deepFreeze, describeType, interpolate, isObject, lookup, merge, sameValue, splitPath } from "./tree.js";

export interface LoadConfigOptions {
  /** Read in this order; a later source's values win over an earlier one's. */
  sources: Source[];
  /**
   * Every config, at start and after each change, must pass this schema (zod, valibot, …); its
   * output (with the schema's defaults and conversions) is what the getters read. An update that
   * fails it is rejected and logged; at start, loadConfig rejects with every invalid field.
   */
  schema?: StandardSchemaV1;
  /** Replace `${VAR}` and `${VAR:-default}` in string values with environment variables (default true). */
  interpolate?: boolean;
  /** Follow changes of sources that can be watched (default true). */
  watch?: boolean;
  /** Where rejected updates and source outages are logged. Default: the process logger. */
  logger?: Logger;
}

/**
 * Loads config from `sources` (later ones win) and keeps following those that can be watched.
 * Rejects with a ConfigError when a source that is not optional cannot be read, or the merged
 * config fails the schema.
 */
export async function loadConfig(...args: Source[] | [LoadConfigOptions]): Promise<Config> {
  const options: LoadConfigOptions = isOptions(args[0]) ? args[0] : { sources: args as Source[] };
  const config = new LoadedConfig(options);
  await config.start();
  return config;
}

/**
 * A config from sources that are in memory (env, flags, memory), read at once and not watched:
 * for a constructor that cannot wait. No schema (schemas may be asynchronous; use scan()).
 */
export function loadConfigSync(...sources: Array<Source & { readNow(): ConfigObject | undefined }>): Config {
  const config = new LoadedConfig({ sources, watch: false });
  config.startSync(sources.map((source) => source.readNow()));
  return config;
}

function isOptions(value: Source | LoadConfigOptions | undefined): value is LoadConfigOptions {
  return value !== undefined && Array.isArray((value as LoadConfigOptions).sources);
}

/** Marks a value the cache knows is absent. */
const MISSING = Symbol("missing");
/** Paths remembered between updates; past this the cache starts over (paths may come from requests). */
const CACHE_LIMIT = 10_000;

/** An object with no prototype, so that no path (`constructor`, `__proto__`) finds an inherited value. */
function emptyCache(): Record<string, unknown> {
  return Object.setPrototypeOf({}, null) as Record<string, unknown>;
}

interface PathWatcher {
  segments: string[];
  last: unknown;
  listener: (value: unknown, previous: unknown) => void;
}

/** What at() hands out: a plain field the config rewrites on each change. */
class PathValue {
  value: unknown;
  constructor(
    readonly path: string,
    readonly segments: string[],
  ) {}
}

class LoadedConfig implements Config {
  private readonly sources: Source[];
  private readonly log: Logger;
  /** Each source's last good tree, by position. */
  private layers: (ConfigObject | undefined)[];
  private values: ConfigObject = deepFreeze({});
  /**
   * Values by path since the last update (MISSING for none). A prototype-less object rather than a
   * Map: V8 looks up a property by a string key faster than a Map entry.
   */
  private cache: Record<string, unknown> = emptyCache();
  private cacheSize = 0;
  /** Durations by path since the last update, so duration() parses its text once. */
  private durations = new Map<string, number>();
  private readonly watchers = new Set<PathWatcher>();
  /** Handles given out by at(), updated with every change. */
  private readonly handles = new Map<string, PathValue>();
  private readonly unwatches: Unwatch[] = [];
  private readonly closers = new Set<() => void>();
  /** Sources that reported a change and wait to be read again. */
  private readonly dirty = new Set<number>();
  private refreshing: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: LoadConfigOptions) {
    this.sources = options.sources;
    this.layers = this.sources.map(() => undefined);
    this.log = (options.logger ?? defaultLogger()).child({ component: "config" });
  }

  async start(): Promise<void> {
    const results = await Promise.allSettled(this.sources.map((source) => source.read()));
    const failures: string[] = [];
    results.forEach((result, i) => {
      const source = this.sources[i];
      if (result.status === "fulfilled") this.layers[i] = result.value;
      else if (source.optional) this.log.warn("optional config source not loaded", { source: source.name, err: errorText(result.reason) });
      else failures.push(`${source.name}: ${errorText(result.reason)}`);
    });
    if (failures.length > 0) {
      await this.closeSources();
      throw new ConfigError(`cannot load config: ${failures.join("; ")}`);
    }
    try {
      this.apply(await this.compute(this.layers));
      if (this.options.watch !== false) await this.startWatching();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  startSync(layers: (ConfigObject | undefined)[]): void {
    this.layers = layers;
    this.apply(this.merged(layers));
  }

  // --- reads ------------------------------------------------------------------------------------

  get<T = unknown>(path: string): T | undefined;
  get<T>(path: string, fallback: T): T;
  get<T>(path: string, fallback?: T): T | undefined {
    const value = this.cached(path);
    return value === MISSING ? fallback : (value as T);
  }

  at<T = unknown>(path: string): ConfigValue<T> {
    let handle = this.handles.get(path);
    if (!handle) {
      handle = new PathValue(path, splitPath(path));
      handle.value = lookup(this.values, handle.segments);
      this.handles.set(path, handle);
    }
    return handle as ConfigValue<T>;
  }

  has(path: string): boolean {
    return this.cached(path) !== MISSING;
  }

  string(path: string): string | undefined;
  string(path: string, fallback: string): string;
  string(path: string, fallback?: string): string | undefined {
    const value = this.present(path);
    if (value === undefined) return fallback;
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    throw new ConfigTypeError(path, "text", describeType(value));
  }

  number(path: string): number | undefined;
  number(path: string, fallback: number): number;
  number(path: string, fallback?: number): number | undefined {
    const value = this.present(path);
    if (value === undefined) return fallback;
    if (typeof value === "number") return value;
    if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
    throw new ConfigTypeError(path, "a number", describeType(value));
  }

  boolean(path: string): boolean | undefined;
  boolean(path: string, fallback: boolean): boolean;
  boolean(path: string, fallback?: boolean): boolean | undefined {
    const value = this.present(path);
    if (value === undefined) return fallback;
    if (typeof value === "boolean") return value;
    const word = String(value).trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(word)) return true;
    if (["false", "0", "no", "off"].includes(word)) return false;
    throw new ConfigTypeError(path, "a boolean", describeType(value));
  }

  duration(path: string): number | undefined;
  duration(path: string, fallback: DurationValue): number;
  duration(path: string, fallback?: DurationValue): number | undefined {
    const known = this.durations.get(path);
    if (known !== undefined) return known;
    const present = this.present(path);
    const value = present ?? fallback;
    if (value === undefined) return undefined;
    if (typeof value === "number" && Number.isFinite(value)) return value;
    const ms = typeof value === "string" ? parseDuration(value) : undefined;
    if (ms === undefined) throw new ConfigTypeError(path, "a duration (milliseconds, or text such as 500ms, 5s, 1h30m)", describeType(value));
    if (present !== undefined) this.durations.set(path, ms);
    return ms;
  }

  list<T = string>(path: string): T[] | undefined;
  list<T = string>(path: string, fallback: T[]): T[];
  list<T>(path: string, fallback?: T[]): T[] | undefined {
    const value = this.present(path);
    if (value === undefined) return fallback;
    if (Array.isArray(value)) return value as T[];
    if (typeof value === "string") {
      return value
        .split(",")
        .map((item) => item.trim())
        .filter(Boolean) as T[];
    }
    throw new ConfigTypeError(path, "a list", describeType(value));
  }

  map<T = unknown>(path: string): Record<string, T> | undefined;
  map<T = unknown>(path: string, fallback: Record<string, T>): Record<string, T>;
  map<T>(path: string, fallback?: Record<string, T>): Record<string, T> | undefined {
    const value = this.present(path);
    if (value === undefined) return fallback;
    if (isObject(value)) return value as Record<string, T>;
    throw new ConfigTypeError(path, "an object", describeType(value));
  }

  all(): Readonly<ConfigObject> {
    return this.values;
  }

  scan<S extends StandardSchemaV1>(schema: S, path = ""): Promise<StandardSchemaV1.InferOutput<S>> {
    return validate(schema, this.get(path), path);
  }

  /** The cached value at `path`, or MISSING. */
  private cached(path: string): unknown {
    const value = this.cache[path];
    return value === undefined ? this.remember(path) : value;
  }

  private remember(path: string): unknown {
    if (this.cacheSize >= CACHE_LIMIT) this.clearCache();
    const found = lookup(this.values, splitPath(path));
    const value = found === undefined ? MISSING : found;
    this.cache[path] = value;
    this.cacheSize++;
    return value;
  }

  private clearCache(): void {
    this.cache = emptyCache();
    this.cacheSize = 0;
    this.durations = new Map();
  }

  /** The value at `path` for typed getters: null counts as absent. */
  private present(path: string): unknown {
    const value = this.cached(path);
    return value === MISSING || value === null ? undefined : value;
  }

  // --- watching ---------------------------------------------------------------------------------

  watch<T>(path: string, listener: (value: T | undefined, previous: T | undefined) => void): Unwatch {
    const segments = splitPath(path);
    const watcher: PathWatcher = { segments, last: lookup(this.values, segments), listener: listener as PathWatcher["listener"] };
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  changes<T>(path = ""): AsyncIterable<ConfigChange<T>> {
    return { [Symbol.asyncIterator]: () => this.changeIterator<T>(path) };
  }

  private changeIterator<T>(path: string): AsyncIterator<ConfigChange<T>> {
    const queue: ConfigChange<T>[] = [];
    let wake: (() => void) | undefined;
    let ended = this.closed;
    const end = (): void => {
      ended = true;
      unwatch();
      this.closers.delete(end);
      wake?.();
    };
    const unwatch = this.watch<T>(path, (value, previous) => {
      queue.push({ path, value, previous });
      wake?.();
    });
    this.closers.add(end);
    return {
      next: async () => {
        while (queue.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        const change = queue.shift();
        return change ? { value: change, done: false } : { value: undefined, done: true };
      },
      return: async () => {
        end();
        return { value: undefined, done: true };
      },
    };
  }

  private async startWatching(): Promise<void> {
    for (const [i, source] of this.sources.entries()) {
      if (!source.watch) continue;
      const log = this.log.child({ source: source.name });
      this.unwatches.push(await source.watch(() => this.markChanged(i), log));
    }
  }

  /** A source changed: read it again once any refresh in progress is done (changes in between coalesce). */
  private markChanged(index: number): void {
    if (this.closed) return;
    this.dirty.add(index);
    this.refreshing ??= this.refreshDirty().finally(() => {
      this.refreshing = undefined;
      if (this.dirty.size > 0) this.markChanged([...this.dirty][0]);
    });
  }

  private async refreshDirty(): Promise<void> {
    const indexes = [...this.dirty];
    this.dirty.clear();
    await this.refresh(indexes);
  }

  async reload(): Promise<void> {
    await this.refresh(
      this.sources.map((_, i) => i),
      true,
    );
  }

  /**
   * Reads the sources at `indexes` again and applies the new merge if it is valid; otherwise logs
   * why (or, for reload(), throws) and keeps everything as it was.
   */
  private async refresh(indexes: number[], throwOnError = false): Promise<void> {
    const layers = [...this.layers];
    try {
      for (const i of indexes) {
        try {
          layers[i] = await this.sources[i].read();
        } catch (err) {
          throw new ConfigError(`${this.sources[i].name}: ${errorText(err)}`);
        }
      }
      const values = await this.compute(layers);
      if (this.closed) return;
      this.layers = layers;
      this.apply(values);
    } catch (err) {
      if (throwOnError) throw err;
      this.log.error("config update rejected; the previous config stays in force", { err: errorText(err) });
    }
  }

  /** The merged, interpolated and validated tree of `layers` (throws if it is invalid). */
  private async compute(layers: (ConfigObject | undefined)[]): Promise<ConfigObject> {
    let values = this.merged(layers);
    if (this.options.schema) {
      const output = await validate(this.options.schema, values);
      if (!isObject(output)) throw new ConfigError(`the config schema's output must be an object, found ${describeType(output)}`);
      values = output;
    }
    return deepFreeze(values);
  }

  /** `layers` merged in order and interpolated. */
  private merged(layers: (ConfigObject | undefined)[]): ConfigObject {
    let values: ConfigObject = {};
    for (const layer of layers) if (layer) values = merge(values, layer);
    if (this.options.interpolate !== false) values = interpolate(values);
    return deepFreeze(values);
  }

  private apply(values: ConfigObject): void {
    this.values = values;
    this.clearCache();
    for (const handle of this.handles.values()) handle.value = lookup(values, handle.segments);
    for (const watcher of [...this.watchers]) {
      const value = lookup(values, watcher.segments);
      if (sameValue(value, watcher.last)) continue;
      const previous = watcher.last;
      watcher.last = value;
      try {
        watcher.listener(value, previous);
      } catch (err) {
        this.log.error("config watcher failed", { path: watcher.segments.join("."), err: errorText(err) });
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const unwatch of this.unwatches) unwatch();
    for (const end of [...this.closers]) end();
    this.watchers.clear();
    await this.refreshing?.catch(() => {});
    await this.closeSources();
  }

  private async closeSources(): Promise<void> {
    await Promise.all(
      this.sources.map((source) =>
        source.close?.().catch((err: unknown) => this.log.warn("config source close failed", { source: source.name, err: errorText(err) })),
      ),
    );
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
