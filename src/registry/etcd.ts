/**
 * The etcd registry, in Go Micro's layout (`registry/etcd`): each node is the key
 * `/micro/registry/<service>/<node id>` (a `/` in either becomes `-`) holding `json(Service)` with
 * that one node, attached to a lease whose TTL is the registration's TTL. Lookups read the key
 * prefix; watchers use etcd's watch, which resumes where it left off after a reconnect.
 *
 * Liveness. Go Micro keeps each lease alive from a background stream for as long as the process
 * runs. Here the registration's heartbeat is the keepalive: `register` of an unchanged node renews
 * its lease once, so a node whose process died *or* stopped heartbeating is gone within its TTL,
 * which is the Registry contract. If the lease is gone (we were cut off for longer than the TTL),
 * the next heartbeat grants a new one and writes the node again, so a node cut off from etcd is
 * back as soon as it can reach etcd. etcd rounds TTLs up to whole seconds (and to its minimum,
 * about 2 s).
 */

import path from "node:path/posix";
import type { Etcd3, Watcher as EtcdWatcher, IKeyValue, Lease } from "etcd3";
import { loadDriver } from "../driver/driver.js";
import { checkEtcdTls, type EtcdTlsOptions, etcdCredentials, parseEtcdHosts, resilientEtcdOptions } from "../driver/etcd.js";
import { Lazy } from "../driver/lazy.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import { mergeServices, withNodes } from "./records.js";
import {
  DEFAULT_REGISTER_TTL,
  type RegisterOptions,
  type Registry,
  type ServiceRecord,
  type WatchAction,
  type Watcher,
  type WatchOptions,
} from "./registry.js";
import type { WatchQueue } from "./watch-queue.js";
import { WatcherSet } from "./watchers.js";
import { decodeService, encodeService } from "./wire.js";

type EtcdDriver = typeof import("etcd3");

export interface EtcdRegistryOptions {
  /** etcd endpoints, `host[:port]` or `http://host:port`, several comma-separated. Default `127.0.0.1:2379`. */
  hosts?: string | string[];
  /** Milliseconds each etcd request may take. Default 5000 (Go Micro's). */
  timeout?: number;
  /** `ETCD_USERNAME` / `ETCD_PASSWORD` are used when this is not set, as Go Micro does. */
  auth?: { username: string; password: string };
  /**
   * TLS, as PEM contents (read files with fs.readFileSync): `ca` is the CA that signed etcd's
   * certificate (default: the system's CAs); `cert` and `key` are this client's, for an etcd that
   * checks client certificates. With `tls`, hosts written without a scheme are `https://`.
   */
  tls?: EtcdTlsOptions;
  /** Where watch failures are logged. Default: the process logger. */
  logger?: Logger;
}

export type { EtcdTlsOptions } from "../driver/etcd.js";

const PREFIX = "/micro/registry/";

/** One node we registered: the lease it hangs on and what we wrote. */
interface Registration {
  lease: Lease;
  value: string;
  seconds: number;
}

export class EtcdRegistry implements Registry {
  readonly name = "etcd";
  readonly hosts: string[];
  private readonly timeout: number;
  private readonly auth: { username: string; password: string } | undefined;
  private readonly client = new Lazy(() => this.connect());
  private readonly registrations = new Map<string, Registration>();
  private readonly watchers = new WatcherSet();
  /** Each open watch, until etcd has it: writes wait for them (see ready()). */
  private readonly watches = new Set<Promise<EtcdWatcher | undefined>>();
  private readonly tls: EtcdTlsOptions | undefined;
  private readonly log: Logger;
  private driver: EtcdDriver | undefined;
  private closed = false;

  constructor(options: EtcdRegistryOptions = {}) {
    this.tls = checkEtcdTls(options.tls, "etcd registry");
    this.hosts = parseEtcdHosts(options.hosts, options.tls ? "https" : "http");
    this.log = options.logger ?? defaultLogger();
    this.timeout = options.timeout ?? 5_000;
    const { ETCD_USERNAME: username, ETCD_PASSWORD: password } = process.env;
    this.auth = options.auth ?? (username && password ? { username, password } : undefined);
  }

  async register(service: ServiceRecord, options: RegisterOptions = {}): Promise<void> {
    const client = await this.ready();
    const seconds = Math.max(1, Math.ceil((options.ttl ?? DEFAULT_REGISTER_TTL) / 1000));
    await Promise.all(service.nodes.map((node) => this.registerNode(client, withNodes(service, [node]), seconds)));
  }

  async deregister(service: ServiceRecord): Promise<void> {
    const client = await this.ready();
    await Promise.all(
      service.nodes.map(async (node) => {
        const key = nodePath(service.name, node.id);
        const registration = this.registrations.get(key);
        this.registrations.delete(key);
        await this.call("deregister", () => client.delete().key(key).options(this.deadline()).exec());
        registration?.lease.revoke(this.deadline()).catch(() => {});
      }),
    );
  }

  async getService(name: string): Promise<ServiceRecord[]> {
    const client = await this.ready();
    const values = await this.call("getService", () =>
      client
        .getAll()
        .prefix(`${servicePath(name)}/`)
        .options(this.deadline())
        .strings(),
    );
    return merge(Object.values(values)).filter((service) => service.name === name);
  }

  async listServices(): Promise<ServiceRecord[]> {
    const client = await this.ready();
    const values = await this.call("listServices", () => client.getAll().prefix(PREFIX).options(this.deadline()).strings());
    return merge(Object.values(values));
  }

  watch(options: WatchOptions = {}): Watcher {
    // etcd filters by key prefix, so each watcher has a watch of its own and is not fanned out to.
    const queue = this.watchers.add(options, () => {
      this.watches.delete(watch);
      void watch.then((watcher) => watcher?.cancel().catch(() => {}));
    });
    const prefix = options.service ? `${servicePath(options.service)}/` : PREFIX;
    const watch = this.client.get().then(
      (client) => this.openWatch(client, prefix, options.service, queue),
      (err: unknown) => {
        this.log.debug("etcd registry: watch failed", { error: String(err) });
        queue.stop();
        return undefined;
      },
    );
    if (!queue.isStopped) this.watches.add(watch);
    return queue;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watchers.stopAll();
    const client = await this.client.peek()?.catch(() => undefined);
    client?.close();
  }

  // --- registration ------------------------------------------------------------------------------

  private async registerNode(client: Etcd3, record: ServiceRecord, seconds: number): Promise<void> {
    const key = nodePath(record.name, record.nodes[0].id);
    const value = encodeService(record);
    const current = this.registrations.get(key);
    if (current && current.value === value && current.seconds === seconds) {
      try {
        await current.lease.keepaliveOnce(this.deadline());
        return;
      } catch (err) {
        // The lease expired while we could not reach etcd: fall through and register anew.
        if (!(err instanceof this.driver!.EtcdLeaseInvalidError)) throw this.failure("register", err);
      }
    }
    const lease = client.lease(seconds, { autoKeepAlive: false, ...this.deadline() });
    lease.on("lost", () => {}); // expiry is handled above, on the next heartbeat
    await this.call("register", () => lease.put(key).value(value).exec());
    this.registrations.set(key, { lease, value, seconds });
    // The key now hangs on the new lease; the old one holds nothing of ours any more.
    if (current && current.lease !== lease) current.lease.revoke(this.deadline()).catch(() => {});
  }

  // --- watching ----------------------------------------------------------------------------------

  private async openWatch(client: Etcd3, prefix: string, service: string | undefined, queue: WatchQueue): Promise<EtcdWatcher | undefined> {
    if (queue.isStopped) return undefined;
    const watcher = await client.watch().prefix(prefix).withPreviousKV().create();
    const emit = (action: WatchAction, kv: IKeyValue | undefined): void => {
      const record = kv?.value ? decodeService(kv.value) : undefined;
      if (!record || (service && record.name !== service)) return;
      queue.push({ action, service: record });
    };
    watcher.on("put", (kv) => emit(isCreate(kv) ? "create" : "update", kv));
    watcher.on("delete", (_kv, previous) => emit("delete", previous));
    // The driver resumes a dropped watch from its last revision; only a watch it gives up on ends ours.
    watcher.on("error", (err) => {
      this.log.debug("etcd registry: watch ended", { error: String(err) });
      queue.stop();
    });
    watcher.on("end", () => queue.stop());
    if (queue.isStopped) await watcher.cancel().catch(() => {});
    return watcher;
  }

  /**
   * The client, once every watch asked for so far is established: so an event caused by a write or
   * lookup that follows a watch() call in this process is never missed by that watch.
   */
  private async ready(): Promise<Etcd3> {
    const client = await this.client.get();
    await Promise.all(this.watches);
    return client;
  }

  // --- connection --------------------------------------------------------------------------------

  private async connect(): Promise<Etcd3> {
    if (this.closed) throw new Error("etcd registry: closed");
    const driver = await loadDriver<EtcdDriver>("etcd3", "etcd registry");
    this.driver = driver;
    const options = resilientEtcdOptions({
      hosts: this.hosts,
      auth: this.auth,
      credentials: this.tls && etcdCredentials(this.tls),
      dialTimeout: this.timeout,
    });
    return new driver.Etcd3(options);
  }

  private deadline(): { deadline: number } {
    return { deadline: Date.now() + this.timeout };
  }

  private async call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw this.failure(operation, err);
    }
  }

  private failure(operation: string, err: unknown): Error {
    return new Error(
      `etcd registry: ${operation} at ${this.hosts.join(", ")} failed: ${(err as Error).message} (is etcd running? e.g. etcd --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379)`,
    );
  }
}

// --- keys and values ---------------------------------------------------------------------------------

/** Go Micro's nodePath: `/micro/registry/<service>/<node>`, `/` inside either replaced by `-`. */
export function nodePath(service: string, nodeId: string): string {
  return path.join(PREFIX, service.replaceAll("/", "-"), nodeId.replaceAll("/", "-"));
}

function servicePath(service: string): string {
  return path.join(PREFIX, service.replaceAll("/", "-"));
}

/** Go's ev.IsCreate(): the key's first revision. */
function isCreate(kv: IKeyValue): boolean {
  return kv.create_revision !== undefined && String(kv.create_revision) === String(kv.mod_revision);
}

function merge(values: string[]): ServiceRecord[] {
  return mergeServices(values.map((value) => decodeService(value)).filter((s): s is ServiceRecord => s !== undefined));
}

/**
 * `a, b:2380, http://c:2379` → `["http://a:2379", "http://b:2380", "http://c:2379"]` (2379 when no
 * port, as Go Micro); hosts without a scheme get `scheme`.
 */
/** Kept under its old name for the registry's users. */
export { parseEtcdHosts as parseHosts };
