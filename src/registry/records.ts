/** Operations on service records that every registry needs: copying, narrowing to some nodes, merging. */
import type { Node, ServiceRecord } from "./registry.js";

/** A deep copy, so callers can't mutate what a registry holds. */
export function cloneService(service: ServiceRecord): ServiceRecord {
  return structuredClone(service);
}

/** The same service record carrying only `nodes`. */
export function withNodes(service: ServiceRecord, nodes: Node[]): ServiceRecord {
  return { ...service, nodes };
}

/**
 * Merges versions of services into one list per (name, version), uniting their nodes; the
 * newest record's metadata and endpoints win.
 */
export function mergeServices(records: ServiceRecord[]): ServiceRecord[] {
  const byVersion = new Map<string, ServiceRecord>();
  for (const record of records) {
    const key = `${record.name}\u0000${record.version}`;
    const existing = byVersion.get(key);
    if (!existing) {
      byVersion.set(key, { ...record, nodes: [...record.nodes] });
      continue;
    }
    const nodes = new Map(existing.nodes.map((n) => [n.id, n]));
    for (const node of record.nodes) nodes.set(node.id, node);
    byVersion.set(key, { ...record, nodes: [...nodes.values()] });
  }
  return [...byVersion.values()];
}
