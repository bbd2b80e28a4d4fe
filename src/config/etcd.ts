/**
 * Config in etcd (`etcd3`, an optional peer dependency), watched. Two layouts:
 *
 * - a prefix (default `/micro/config/`, Go Micro's etcd config source): every key under it is a
 *   path, `/` separating segments (`/micro/config/database/host` → `database.host`), and its
 *   value is JSON (text that is not JSON is taken as a string);
 * - one key holding a whole document (JSON, YAML or TOML).
 *
 * The watch is etcd's, which the driver re-opens after an outage; every (re)connection reads the
 * source again, so a change made while etcd was unreachable is not missed.
 */
import type { Etcd3 } from "etcd3";
import { loadDriver } from "../driver/driver.js";
import { parseEtcdHosts, resilientEtcdOptions } from "../driver/etcd.js";
import { Lazy } from "../driver/lazy.js";
import { ConfigError, type ConfigObject, type SourceLog, type Unwatch, type WritableSource } from "./config.js";
import { DEFAULT_MAX_FILE_BYTES } from "./file.js";
import { type ConfigFormat, parseDocument } from "./formats.js";
import { assign, splitPath } from "./tree.js";

/** Go Micro's etcd config prefix. */
export const DEFAULT_ETCD_CONFIG_PREFIX = "/micro/config/";

export interface EtcdSourceOptions {
  /** etcd endpoints, `host[:port]` or `http://host:port`, comma-separated. Default `127.0.0.1:2379`. */
  hosts?: string | string[];
  /** Keys under this prefix are config paths. Default `/micro/config/` (ignored when `key` is set). */
  prefix?: string;
  /** One key holding the whole config document instead of a prefix. */
  key?: string;
  /** The format of the document at `key`. Default `json`. */
  format?: ConfigFormat;
  /** Unreachable at start counts as empty instead of failing the load. Default false. */
  optional?: boolean;
  /** Milliseconds a read may take. Default 5 s. */
  timeout?: number;
  /** Largest document (or all keys together) read, in bytes. Default 4 MiB. */
  maxBytes?: number;
}

export class EtcdSource implements WritableSource {
  readonly name: string;
  readonly optional: boolean;
  readonly hosts: string[];
  private readonly prefix: string;
  private readonly client = new Lazy(() => this.connect());

  constructor(private readonly options: EtcdSourceOptions = {}) {
    this.hosts = parseEtcdHosts(options.hosts);
    this.prefix = options.prefix ?? DEFAULT_ETCD_CONFIG_PREFIX;
    this.optional = options.optional ?? false;
    this.name = `etcd:${options.key ?? this.prefix}`;
  }

  async read(): Promise<ConfigObject | undefined> {
    const client = await this.client.get();
    const limit = this.options.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
    if (this.options.key !== undefined) {
      const text = await this.request("read", () => client.get(this.options.key!).string());
      if (text === null) return undefined;
      if (text.length > limit) throw new ConfigError(`etcd key ${this.options.key} holds ${text.length} bytes, more than the limit of ${limit} (maxBytes)`);
      return parseDocument(text, this.options.format ?? "json", `etcd key ${this.options.key}`);
    }
    const entries = await this.request("read", () => client.getAll().prefix(this.prefix).strings());
    let size = 0;
    let tree: ConfigObject = {};
    for (const [key, text] of Object.entries(entries).sort(([a], [b]) => a.localeCompare(b))) {
      size += text.length;
      if (size > limit) throw new ConfigError(`etcd prefix ${this.prefix} holds more than the limit of ${limit} bytes (maxBytes)`);
      const path = this.pathOf(key);
      if (path.length > 0) tree = assign(tree, path, jsonOrText(text));
    }
    return tree;
  }

  async set(path: string, value: unknown): Promise<void> {
    const client = await this.client.get();
    if (this.options.key === undefined) {
      const segments = splitPath(path);
      if (segments.length === 0) throw new ConfigError("etcd config: set needs a path");
      const key = this.prefix + segments.join("/");
      await this.request("write", () => client.put(key).value(JSON.stringify(value)).exec());
      return;
    }
    if ((this.options.format ?? "json") !== "json") throw new ConfigError(`etcd key ${this.options.key}: set writes JSON documents only`);
    const current = (await this.read()) ?? {};
    const next = assign(current, splitPath(path), value);
    await this.request("write", () => client.put(this.options.key!).value(JSON.stringify(next)).exec());
  }

  async watch(changed: () => void, log: SourceLog): Promise<Unwatch> {
    const client = await this.client.get();
    const builder = client.watch();
    const watcher = await this.request("watch", () => (this.options.key !== undefined ? builder.key(this.options.key) : builder.prefix(this.prefix)).create());
    let down = false;
    watcher.on("put", changed);
    watcher.on("delete", changed);
    watcher.on("disconnected", () => {
      if (!down) log.warn("etcd config watch disconnected; reconnecting", { hosts: this.hosts });
      down = true;
    });
    watcher.on("connected", () => {
      if (!down) return;
      down = false;
      log.info("etcd config watch reconnected", { hosts: this.hosts });
      changed();
    });
    watcher.on("error", (err) => log.warn("etcd config watch error", { err: err.message }));
    return () => void watcher.cancel().catch(() => {});
  }

  async close(): Promise<void> {
    const client = this.client.peek();
    this.client.reset();
    (await client?.catch(() => undefined))?.close();
  }

  /** `/micro/config/database/host` → `["database", "host"]`. */
  private pathOf(key: string): string[] {
    return key.slice(this.prefix.length).split("/").filter(Boolean);
  }

  private async request<T>(operation: string, run: () => Promise<T>): Promise<T> {
    const timeout = this.options.timeout ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeout} ms`)), timeout);
    });
    try {
      return await Promise.race([run(), deadline]);
    } catch (err) {
      throw new ConfigError(`etcd config ${operation} at ${this.hosts.join(", ")} failed: ${(err as Error).message} (is etcd running?)`);
    } finally {
      clearTimeout(timer);
    }
  }

  private async connect(): Promise<Etcd3> {
    const driver = await loadDriver<typeof import("etcd3")>("etcd3", "etcd config source");
    return new driver.Etcd3(resilientEtcdOptions({ hosts: this.hosts, dialTimeout: this.options.timeout ?? 5_000 }));
  }
}

/** JSON when it parses as JSON, else the text itself (a bare word written with etcdctl). */
function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Config in etcd under a prefix or at one key, watched; see EtcdSourceOptions. */
export function etcd(options: EtcdSourceOptions = {}): EtcdSource {
  return new EtcdSource(options);
}
