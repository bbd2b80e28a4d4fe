/**
 * Config trees: merging sources, looking up and setting dotted paths, `${VAR}` interpolation.
 * Trees are plain JSON-like data (objects, arrays, strings, numbers, booleans, null).
 */
import { ConfigError, type ConfigObject } from "./config.js";

/** A plain object (not an array, not null, not a Date or a class instance). */
export function isObject(value: unknown): value is ConfigObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A key that would reach an object's prototype if assigned: never taken from config data. */
function unsafeKey(key: string): boolean {
  return key === "__proto__";
}

/**
 * `over` merged onto `base`: objects key by key (recursively), everything else (arrays included)
 * replaced by the later value. Neither input is changed.
 */
export function merge(base: ConfigObject, over: ConfigObject): ConfigObject {
  const out: ConfigObject = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (unsafeKey(key) || value === undefined) continue;
    const current = out[key];
    out[key] = isObject(current) && isObject(value) ? merge(current, value) : value;
  }
  return out;
}

/** `"a.b.c"` → `["a", "b", "c"]`; `""` → `[]`. */
export function splitPath(path: string): string[] {
  return path === "" ? [] : path.split(".");
}

/** The value at `segments` in `tree`; arrays are indexed by number (`"hosts.0"`). */
export function lookup(tree: unknown, segments: readonly string[]): unknown {
  let node = tree;
  for (const segment of segments) {
    if (Array.isArray(node)) node = /^\d+$/.test(segment) ? node[Number(segment)] : undefined;
    else if (isObject(node) && Object.hasOwn(node, segment)) node = node[segment];
    else return undefined;
  }
  return node;
}

/** A copy of `tree` with `value` at `segments`, creating objects on the way (replacing non-objects). */
export function assign(tree: ConfigObject, segments: readonly string[], value: unknown): ConfigObject {
  if (segments.length === 0) {
    if (!isObject(value)) throw new ConfigError("only an object can replace the whole config");
    return value;
  }
  const [head, ...rest] = segments;
  if (unsafeKey(head)) throw new ConfigError(`config path segment ${JSON.stringify(head)} is not allowed`);
  const child = tree[head];
  return { ...tree, [head]: rest.length === 0 ? value : assign(isObject(child) ? child : {}, rest, value) };
}

/** `data` when it is an object; otherwise a ConfigError saying what `what` holds instead. */
export function requireObject(data: unknown, what: string): ConfigObject {
  if (isObject(data)) return data;
  throw new ConfigError(`${what}: the top level must be an object (key: value pairs), found ${describeType(data)}`);
}

/** A value's kind for messages, never its content. */
export function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (isObject(value)) return "an object";
  return `a ${typeof value}`;
}

const VARIABLE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Every string in `tree` with `${VAR}` replaced by the environment variable (`""` when unset),
 * `${VAR:-default}` by the variable or the default when unset or empty, and `$$` by `$`.
 * Strings without `$` are returned as they are (the same objects), so this is cheap on large trees.
 */
export function interpolate<T>(tree: T, env: NodeJS.ProcessEnv = process.env): T {
  if (typeof tree === "string") return (tree.includes("$") ? replaceVariables(tree, env) : tree) as T;
  if (Array.isArray(tree)) return tree.map((item) => interpolate(item, env)) as T;
  if (isObject(tree)) {
    const out: ConfigObject = {};
    for (const [key, value] of Object.entries(tree)) out[key] = interpolate(value, env);
    return out as T;
  }
  return tree;
}

function replaceVariables(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(VARIABLE, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === "$$") return "$";
    const value = env[name!];
    return fallback !== undefined && !value ? fallback : (value ?? "");
  });
}

/** Freezes a tree all the way down, so a value handed out cannot change the config under others. */
export function deepFreeze<T>(tree: T): T {
  if (typeof tree === "object" && tree !== null && !Object.isFrozen(tree)) {
    for (const value of Object.values(tree)) deepFreeze(value);
    Object.freeze(tree);
  }
  return tree;
}

/** Whether two trees hold the same data (key order ignored). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && sameValue(a[key], b[key]));
  }
  return false;
}

/**
 * Text from the command line or the environment typed as Go Micro's env source types it: whole
 * numbers become numbers and `true`/`false` booleans; anything else (`007`, `1e3`, `yes`) stays text.
 */
export function typedScalar(text: string): string | number | boolean {
  if (/^-?(0|[1-9]\d{0,14})$/.test(text)) return Number(text);
  const lower = text.toLowerCase();
  if (lower === "true" || lower === "false") return lower === "true";
  return text;
}
