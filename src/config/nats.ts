/**
 * Config in a NATS JetStream key-value bucket (`@nats-io/kv` and `@nats-io/transport-node`, optional
 * peer dependencies), watched. Go Micro's layout: bucket `default`, key `micro_config`, the value a
 * JSON document (YAML or TOML with `format`); the bucket is created if absent. A missing or
 * deleted key is an empty config, as in Go Micro.
 */
import type { KV } from "@nats-io/kv";
import { loadDriver } from "../driver/driver.js";
import { Lazy } from "../driver/lazy.js";
import { type NatsConnectionOptions, type NatsHandle, openNatsConnection } from "../driver/nats.js";
import { ConfigError, type ConfigObject, type SourceLog, type Unwatch, type WritableSource } from "./config.js";
import { DEFAULT_MAX_FILE_BYTES } from "./file.js";
import { type ConfigFormat, parseDocument } from "./formats.js";
import { assign, splitPath } from "./tree.js";

/** Go Micro's NATS config bucket and key. */
export const DEFAULT_NATS_CONFIG_BUCKET = "default";
export const DEFAULT_NATS_CONFIG_KEY = "micro_config";

export interface NatsSourceOptions extends NatsConnectionOptions {
  /** Default `default` (Go Micro's). */
  bucket?: string;
  /** Default `micro_config` (Go Micro's). */
  key?: string;
  /** The document's format. Default `json`. */
  format?: ConfigFormat;
  /** Unreachable at start counts as empty instead of failing the load. Default false. */
  optional?: boolean;
  /** Largest document read, in bytes. Default 4 MiB. */
  maxBytes?: number;
}

/** Attempts of a read-modify-write set() that loses a race with another writer. */
const SET_ATTEMPTS = 5;

export class NatsSource implements WritableSource {
  readonly name: string;
  readonly optional: boolean;
  private readonly bucket: string;
  private readonly key: string;
  private readonly connection = new Lazy(() => openNatsConnection(this.options, { plugin: "nats config source", name: "ts-micro config", timeout: 5_000 }));
  private readonly kv = new Lazy(() => this.openBucket());

  constructor(private readonly options: NatsSourceOptions = {}) {
    this.bucket = options.bucket ?? DEFAULT_NATS_CONFIG_BUCKET;
    this.key = options.key ?? DEFAULT_NATS_CONFIG_KEY;
    this.optional = options.optional ?? false;
    this.name = `nats:${this.bucket}/${this.key}`;
  }

  async read(): Promise<ConfigObject | undefined> {
    const kv = await this.kv.get();
    const entry = await kv.get(this.key);
    if (entry?.operation !== "PUT") return undefined;
    const limit = this.options.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
    if (entry.length > limit)
      throw new ConfigError(`NATS key ${this.bucket}/${this.key} holds ${entry.length} bytes, more than the limit of ${limit} (maxBytes)`);
    return parseDocument(entry.string(), this.options.format ?? "json", `NATS key ${this.bucket}/${this.key}`);
  }

  /** Sets one path in the document, compare-and-set on the key's revision so concurrent writers do not lose each other's changes. */
  async set(path: string, value: unknown): Promise<void> {
    if ((this.options.format ?? "json") !== "json") throw new ConfigError(`NATS key ${this.bucket}/${this.key}: set writes JSON documents only`);
    const kv = await this.kv.get();
    for (let attempt = 1; ; attempt++) {
      const entry = await kv.get(this.key);
      const exists = entry?.operation === "PUT";
      const current = exists ? await parseDocument(entry.string(), "json", `NATS key ${this.bucket}/${this.key}`) : {};
      const data = JSON.stringify(assign(current, splitPath(path), value));
      try {
        // A deleted key still has a revision to compare against.
        if (entry) await kv.update(this.key, data, entry.revision);
        else await kv.create(this.key, data);
        return;
      } catch (err) {
        if (attempt >= SET_ATTEMPTS) throw new ConfigError(`NATS key ${this.bucket}/${this.key}: set failed: ${(err as Error).message}`);
      }
    }
  }

  async watch(changed: () => void, log: SourceLog): Promise<Unwatch> {
    const kv = await this.kv.get();
    // The watch starts with the current value: read again once, so a change between read() and here is not missed.
    const updates = await kv.watch({ key: this.key });
    void (async () => {
      try {
        for await (const _entry of updates) changed();
      } catch (err) {
        log.warn("NATS config watch ended", { err: (err as Error).message });
      }
    })();
    return () => updates.stop();
  }

  async close(): Promise<void> {
    const handle = this.connection.peek();
    this.connection.reset();
    this.kv.reset();
    await (await handle?.catch(() => undefined))?.release();
  }

  private async openBucket(): Promise<KV> {
    const { Kvm } = await loadDriver<typeof import("@nats-io/kv")>("@nats-io/kv", "nats config source");
    const handle: NatsHandle = await this.connection.get();
    try {
      return await new Kvm(handle.nc).create(this.bucket);
    } catch (err) {
      throw new ConfigError(`nats config source: cannot open bucket ${this.bucket}: ${(err as Error).message} (is JetStream enabled? nats-server -js)`);
    }
  }
}

/** Config in a NATS KV bucket (Go Micro's `default`/`micro_config` unless told), watched; see NatsSourceOptions. */
export function nats(options: NatsSourceOptions = {}): NatsSource {
  return new NatsSource(options);
}
