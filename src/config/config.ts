/**
 * Dynamic configuration: values from any number of sources (env, files, flags, memory, etcd, NATS
 * KV), merged in load order, read by dotted path, validated by a schema, and watched for changes.
 *
 * The model is Go Micro's (sources → merge in order, later wins → path lookups with defaults →
 * scan → watch), without its gaps: files may be JSON, YAML or TOML; paths are dotted strings;
 * an update that cannot be parsed or fails the schema is rejected as a whole and the last good
 * config stays; a source that cannot be read at start is an error unless it is optional.
 */
import { ErrorId, MicroError } from "../errors/errors.js";
import type { StandardSchemaV1 } from "./schema.js";

export const CONFIG_ERROR_ID: string = ErrorId.config;

/** A config tree: what a source reads and what the merged config is. */
export type ConfigObject = { [key: string]: unknown };

/** A way to stop something (a watch, a subscription). */
export type Unwatch = () => void;

/**
 * Where config comes from. A source reads its whole tree; one that can notice changes says so
 * through watch(), and the config reads it again.
 */
export interface Source {
  /** For messages: `file:/etc/app/config.yaml`, `env:APP_`, `etcd:/micro/config/`. Never a secret. */
  readonly name: string;
  /** An optional source that cannot be read counts as empty instead of failing the load. */
  readonly optional?: boolean;
  /** The source's tree; undefined when there is nothing there (a missing key or file). Throws on unreadable or invalid data. */
  read(): Promise<ConfigObject | undefined>;
  /**
   * Calls `changed` whenever the source's data may have changed (the config then reads it again).
   * Resolves once the watch is established. Sources that never change leave it out.
   */
  watch?(changed: () => void, log: SourceLog): Promise<Unwatch>;
  /** Lets go of connections the source opened. */
  close?(): Promise<void>;
}

/** What a watching source reports about its own connection (outages, recoveries). */
export interface SourceLog {
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
}

/** A source that can also be written (etcd, NATS KV, memory): what `micro config set` uses. */
export interface WritableSource extends Source {
  /** Sets the value at a dotted path, leaving the rest of the source's tree as it is. */
  set(path: string, value: unknown): Promise<void>;
}

/** A change seen by a watcher: the value at the watched path after and before. */
export interface ConfigChange<T = unknown> {
  path: string;
  value: T | undefined;
  previous: T | undefined;
}

/**
 * The value at one path, looked up once and kept current by the config, for the hottest reads:
 * reading `value` costs what reading an object property does, where `get(path)` costs a keyed lookup.
 */
export interface ConfigValue<T> {
  readonly path: string;
  /** The value now (undefined when there is none); it changes when the config does. */
  readonly value: T | undefined;
}

/** A value a getter may convert to a duration: milliseconds, or text such as `5s`, `1m30s`. */
export type DurationValue = number | string;

/**
 * The merged config of a service. Reads are synchronous and cheap (fit for every request); the
 * values change when a watched source changes and the whole new config is valid.
 */
export interface Config {
  /** The value at a dotted path (`"database.host"`; `""` is the whole tree), or `fallback` when there is none. */
  get<T = unknown>(path: string): T | undefined;
  get<T>(path: string, fallback: T): T;
  /**
   * The value at `path` as a handle whose `value` the config keeps current. Take it once (at
   * start-up) and read `.value` per request; the same path gives the same handle.
   */
  at<T = unknown>(path: string): ConfigValue<T>;
  /** Whether a value exists at `path`. */
  has(path: string): boolean;
  /**
   * Typed getters: the value converted (numbers and booleans from text, text from numbers), the
   * fallback when there is none; a value that cannot be converted throws a ConfigTypeError.
   */
  string(path: string): string | undefined;
  string(path: string, fallback: string): string;
  number(path: string): number | undefined;
  number(path: string, fallback: number): number;
  boolean(path: string): boolean | undefined;
  boolean(path: string, fallback: boolean): boolean;
  /** Milliseconds: a number is milliseconds; text is `500ms`, `5s`, `1h30m`, or plain seconds. */
  duration(path: string): number | undefined;
  duration(path: string, fallback: DurationValue): number;
  /** An array, or comma-separated text split and trimmed. */
  list<T = string>(path: string): T[] | undefined;
  list<T = string>(path: string, fallback: T[]): T[];
  /** An object. */
  map<T = unknown>(path: string): Record<string, T> | undefined;
  map<T = unknown>(path: string, fallback: Record<string, T>): Record<string, T>;
  /** The whole merged tree (frozen: it is shared). */
  all(): Readonly<ConfigObject>;
  /**
   * The tree (or the subtree at `path`) validated by a Standard Schema (zod, valibot, ArkType,
   * TypeBox…) and returned as the schema's output; a ConfigSchemaError lists every invalid field.
   */
  scan<S extends StandardSchemaV1>(schema: S, path?: string): Promise<StandardSchemaV1.InferOutput<S>>;
  /** Calls `listener` each time the value at `path` changes (compared by value); returns the way to stop. */
  watch<T = unknown>(path: string, listener: (value: T | undefined, previous: T | undefined) => void): Unwatch;
  /** The changes of the value at `path` (default: the whole tree) as they happen, until close() or the loop ends. */
  changes<T = unknown>(path?: string): AsyncIterable<ConfigChange<T>>;
  /** Reads every source again now (watched sources do it by themselves). Rejects, keeping the current values, if the result is invalid. */
  reload(): Promise<void>;
  /** Stops watching, ends change iterators, closes the sources. */
  close(): Promise<void>;
}

/** A source that could not be read, or data that is not a config tree. Status 400: it is bad input, not a bug. */
export class ConfigError extends MicroError {
  constructor(detail: string) {
    super(CONFIG_ERROR_ID, 400, detail);
  }
}

/** A value that a typed getter cannot convert. The message names the path and the types, never the value. */
export class ConfigTypeError extends ConfigError {
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`config ${JSON.stringify(path)}: expected ${expected}, found ${actual}`);
  }
}

/** One invalid field: its dotted path (`""` for the root) and what is wrong with it. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/**
 * A config that fails its schema: every invalid field, in one message. Some schema libraries
 * quote the value they received ("received \"hunter2\""); the message, which ends up in logs,
 * has every quoted text replaced by "…". `issues` keeps the library's messages as they are.
 */
export class ConfigSchemaError extends ConfigError {
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(`config is invalid: ${issues.map((i) => `${i.path || "(root)"}: ${withoutQuotedText(i.message)}`).join("; ")}`);
  }
}

function withoutQuotedText(message: string): string {
  return message.replace(/"[^"]*"|'[^']*'/g, '"…"');
}
