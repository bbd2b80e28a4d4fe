import { cloneService, withNodes } from "./records.js";
import {
  DEFAULT_REGISTER_TTL,
  type Node,
  type RegisterOptions,
  type Registry,
  type ServiceRecord,
  type WatchAction,
  type Watcher,
  type WatchOptions,
} from "./registry.js";
import { WatcherSet } from "./watchers.js";

interface NodeEntry {
  node: Node;
  expiresAt: number;
}

interface VersionEntry {
  service: ServiceRecord; // endpoints and metadata of the latest registration; nodes live in `nodes`
  nodes: Map<string, NodeEntry>;
}

/**
 * An in-process registry: for tests and for several services in one process. Nodes expire after
 * their TTL (checked every `sweepInterval`), and watchers see every change.
 */
export class MemoryRegistry implements Registry {
  readonly name = "memory";
  private readonly services = new Map<string, Map<string, VersionEntry>>();
  private readonly watchers = new WatcherSet();
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: { sweepInterval?: number } = {}) {
    this.sweeper = setInterval(() => this.sweep(), options.sweepInterval ?? 1_000).unref();
  }

  async register(service: ServiceRecord, options: RegisterOptions = {}): Promise<void> {
    const expiresAt = Date.now() + (options.ttl ?? DEFAULT_REGISTER_TTL);
    const versions = this.services.get(service.name) ?? new Map<string, VersionEntry>();
    this.services.set(service.name, versions);
    const entry = versions.get(service.version) ?? { service, nodes: new Map() };
    entry.service = cloneService(withNodes(service, []));
    versions.set(service.version, entry);
    for (const node of service.nodes) {
      const action: WatchAction = entry.nodes.has(node.id) ? "update" : "create";
      entry.nodes.set(node.id, { node: structuredClone(node), expiresAt });
      this.notify(action, entry.service, node);
    }
  }

  async deregister(service: ServiceRecord): Promise<void> {
    const entry = this.services.get(service.name)?.get(service.version);
    if (!entry) return;
    for (const node of service.nodes) this.removeNode(entry, node.id);
  }

  async getService(name: string): Promise<ServiceRecord[]> {
    const versions = this.services.get(name);
    if (!versions) return [];
    return [...versions.values()].map((entry) => this.snapshot(entry));
  }

  async listServices(): Promise<ServiceRecord[]> {
    return [...this.services.values()].flatMap((versions) => [...versions.values()].map((entry) => this.snapshot(entry)));
  }

  watch(options: WatchOptions = {}): Watcher {
    return this.watchers.add(options);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.watchers.stopAll();
  }

  private snapshot(entry: VersionEntry): ServiceRecord {
    return cloneService(
      withNodes(
        entry.service,
        [...entry.nodes.values()].map((n) => n.node),
      ),
    );
  }

  private removeNode(entry: VersionEntry, nodeId: string): void {
    const removed = entry.nodes.get(nodeId);
    if (!removed) return;
    entry.nodes.delete(nodeId);
    const { name, version } = entry.service;
    if (entry.nodes.size === 0) {
      const versions = this.services.get(name);
      versions?.delete(version);
      if (versions?.size === 0) this.services.delete(name);
    }
    this.notify("delete", entry.service, removed.node);
  }

  private sweep(): void {
    const now = Date.now();
    for (const versions of [...this.services.values()]) {
      for (const entry of [...versions.values()]) {
        for (const [id, { expiresAt }] of [...entry.nodes]) if (expiresAt <= now) this.removeNode(entry, id);
      }
    }
  }

  private notify(action: WatchAction, service: ServiceRecord, node: Node): void {
    this.watchers.emit(action, withNodes(service, [node]));
  }
}
