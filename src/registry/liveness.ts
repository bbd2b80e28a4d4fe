/**
 * TTL for registries without a central store (nats, mdns), where every process answers for its own
 * nodes and announces changes. A dead process answers nothing, so lookups miss it at once; but a
 * watcher only hears announcements, and a process killed with -9 announces nothing. So a watcher
 * keeps a last-heard time per node: a node silent for its TTL is confirmed with one lookup, and if
 * nobody answers for it any more, watchers get a `delete`.
 */
import type { ServiceRecord, WatchAction } from "./registry.js";

interface HeardNode {
  /** One-node record. */
  service: ServiceRecord;
  /** Its JSON, to tell a heartbeat from a change; "" when its next announcement must be passed on anyway. */
  content: string;
  ttl: number;
  expiresAt: number;
}

export interface LivenessHooks {
  emit(action: WatchAction, record: ServiceRecord): void;
  /** Who answers for `name` now; throws when that can't be known (not connected). */
  lookup(name: string): Promise<ServiceRecord[]>;
}

export class NodeLiveness {
  private readonly nodes = new Map<string, HeardNode>();
  /** Service names whose silent nodes are being confirmed. */
  private readonly confirming = new Set<string>();

  constructor(
    private readonly hooks: LivenessHooks,
    private readonly defaultTtl: number,
  ) {}

  /** A node announced itself (create or heartbeat); watchers hear only what is news. */
  announced(record: ServiceRecord, ttl: number | undefined): void {
    const key = nodeKey(record);
    const before = this.nodes.get(key);
    const content = JSON.stringify(record);
    const lifetime = ttl ?? before?.ttl ?? this.defaultTtl;
    this.nodes.set(key, { service: record, content, ttl: lifetime, expiresAt: Date.now() + lifetime });
    if (!before) this.hooks.emit("create", record);
    else if (before.content !== content) this.hooks.emit("update", record);
  }

  /** A node announced its end. */
  removed(record: ServiceRecord): void {
    this.nodes.delete(nodeKey(record));
    this.hooks.emit("delete", record);
  }

  /**
   * Keys (see `recordKey`) of the nodes of `name` heard of within their TTL: owners a lookup can
   * expect an answer from. A node silent for its TTL is no such evidence (its owner may have died:
   * waiting for it would delay telling watchers so).
   */
  heardOf(name: string): Set<string> {
    const now = Date.now();
    const keys = new Set<string>();
    for (const [key, node] of this.nodes) if (node.service.name === name && node.expiresAt > now) keys.add(key);
    return keys;
  }

  /**
   * A lookup of `name` found `services`. The nodes it found are tracked too, so they expire if
   * their owner dies before its next announcement. The nodes heard of that it did not find are
   * kept (an owner answering late is not a dead one: their TTL decides), but their next
   * announcement is passed on to watchers again even if unchanged: a watcher started before that
   * lookup (a cache's) took the lookup's word and has not got them.
   */
  lookedUp(name: string, services: ServiceRecord[]): void {
    const now = Date.now();
    const found = new Set(services.flatMap((service) => service.nodes.map((node) => recordKey(service, node.id))));
    for (const [key, node] of this.nodes) if (node.service.name === name && !found.has(key)) node.content = "";
    for (const service of services) {
      for (const node of service.nodes) {
        const record = { ...service, nodes: [node] };
        const key = nodeKey(record);
        const before = this.nodes.get(key);
        const ttl = before?.ttl ?? this.defaultTtl;
        this.nodes.set(key, { service: record, content: before?.content || JSON.stringify(record), ttl, expiresAt: now + ttl });
      }
    }
  }

  /** After an outage nobody could be heard: start every node's clock again. */
  restartClocks(): void {
    const now = Date.now();
    for (const node of this.nodes.values()) node.expiresAt = now + node.ttl;
  }

  /** Confirms the nodes that have been silent for their TTL. */
  sweep(): void {
    const now = Date.now();
    const suspects = new Set<string>();
    for (const node of this.nodes.values()) {
      if (node.expiresAt <= now && !this.confirming.has(node.service.name)) suspects.add(node.service.name);
    }
    for (const name of suspects) void this.confirm(name);
  }

  private async confirm(name: string): Promise<void> {
    this.confirming.add(name);
    try {
      const alive = await this.hooks.lookup(name);
      this.lookedUp(name, alive);
      const now = Date.now();
      for (const [key, node] of [...this.nodes]) {
        if (node.service.name !== name || node.expiresAt > now) continue;
        this.nodes.delete(key);
        this.hooks.emit("delete", node.service);
      }
    } catch {
      // The lookup couldn't be made (not connected): the next sweep tries again.
    } finally {
      this.confirming.delete(name);
    }
  }
}

function nodeKey(record: ServiceRecord): string {
  return recordKey(record, record.nodes[0]?.id ?? "");
}

/** One node of a service, as liveness keys it: name, version, node id. */
export function recordKey(service: ServiceRecord, nodeId: string): string {
  return `${service.name}\u0000${service.version}\u0000${nodeId}`;
}
