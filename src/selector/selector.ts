/**
 * Client-side load balancing. A Filter narrows the services (versions) a call may go to; a
 * Strategy picks one node among what is left. Nodes that refuse connections are ejected for a
 * while (with backoff) so that calls stop trying them before the registry notices they are gone.
 */
import type { Node, Service } from "../registry/registry.js";

/** Narrows the candidate services, e.g. to one version. Pure: returns a new array. */
export type Filter = (services: readonly Service[]) => Service[];

/** What a strategy may know about the nodes' current load. */
export interface LoadInfo {
  /** Calls in flight to the node at `address` from this client. */
  inflight(address: string): number;
}

/** Picks one node from a non-empty list. `key` identifies the service, for stateful strategies. */
export interface Strategy {
  readonly name: string;
  pick(nodes: readonly Node[], key: string, load: LoadInfo): Node;
}

export const random: Strategy = {
  name: "random",
  pick: (nodes) => nodes[Math.floor(Math.random() * nodes.length)],
};

/** Round robin across calls (per service), starting at a random node. */
export function roundRobin(): Strategy {
  const counters = new Map<string, number>();
  return {
    name: "roundRobin",
    pick(nodes, key) {
      const next = counters.get(key) ?? Math.floor(Math.random() * nodes.length);
      counters.set(key, (next + 1) % 0x7fffffff);
      return nodes[next % nodes.length];
    },
  };
}

/** The node with the fewest calls in flight from this client; ties broken at random. */
export const leastRequests: Strategy = {
  name: "leastRequests",
  pick(nodes, _key, load) {
    let best: Node[] = [];
    let fewest = Infinity;
    for (const node of nodes) {
      const n = load.inflight(node.address);
      if (n < fewest) {
        fewest = n;
        best = [node];
      } else if (n === fewest) best.push(node);
    }
    return best[Math.floor(Math.random() * best.length)];
  },
};

export function strategyByName(name: string): Strategy {
  switch (name) {
    case "random":
      return random;
    case "roundRobin":
    case "roundrobin":
      return roundRobin();
    case "leastRequests":
    case "leastrequests":
      return leastRequests;
    default:
      throw new TypeError(`unknown selector strategy ${JSON.stringify(name)} (use random, roundRobin or leastRequests)`);
  }
}

/** Only the given versions. */
export function filterVersion(...versions: string[]): Filter {
  return (services) => services.filter((s) => versions.includes(s.version));
}

/** Only nodes whose metadata has `key` = `value`. */
export function filterMetadata(key: string, value: string): Filter {
  return (services) =>
    services.map((s) => ({ ...s, nodes: s.nodes.filter((n) => n.metadata?.[key] === value) })).filter((s) => s.nodes.length > 0);
}

/** Only services that advertise the endpoint (services that list no endpoints are kept). */
export function filterEndpoint(endpoint: string): Filter {
  return (services) => services.filter((s) => !s.endpoints?.length || s.endpoints.some((e) => e.name === endpoint));
}

interface Ejection {
  until: number;
  failures: number;
}

export interface SelectorOptions {
  strategy?: Strategy;
  /** First ejection of a failing node, in ms; doubles per consecutive failure (default 250 ms). */
  ejectBase?: number;
  /** Longest ejection, in ms (default 30 s). */
  ejectMax?: number;
}

export interface SelectOptions {
  filters?: readonly Filter[];
  strategy?: Strategy;
  /** Node addresses not to pick (e.g. those already tried by this call). */
  exclude?: ReadonlySet<string>;
}

/**
 * Chooses nodes for calls. Stateless about the registry: the caller passes the service records
 * (from the registry cache) and the selector applies filters, ejections and the strategy.
 */
export class Selector implements LoadInfo {
  readonly strategy: Strategy;
  private readonly ejections = new Map<string, Ejection>();
  private readonly inflightByAddress = new Map<string, number>();
  private readonly flattened = new WeakMap<readonly Service[], Node[]>();
  private readonly ejectBase: number;
  private readonly ejectMax: number;

  constructor(options: SelectorOptions = {}) {
    this.strategy = options.strategy ?? random;
    this.ejectBase = options.ejectBase ?? 250;
    this.ejectMax = options.ejectMax ?? 30_000;
  }

  /** Picks a node, or returns undefined when no node is left after filtering and exclusions. */
  select(key: string, services: readonly Service[], options: SelectOptions = {}): Node | undefined {
    const nodes = this.candidates(services, options.filters);
    const usable = this.usable(nodes, options.exclude);
    if (usable.length === 0) return undefined;
    return (options.strategy ?? this.strategy).pick(usable, key, this);
  }

  /** Records the outcome of talking to a node: a connection failure ejects it for a while. */
  mark(address: string, connectionFailed: boolean): void {
    if (!connectionFailed) {
      if (this.ejections.size > 0) this.ejections.delete(address);
      return;
    }
    const failures = (this.ejections.get(address)?.failures ?? 0) + 1;
    const wait = Math.min(this.ejectMax, this.ejectBase * 2 ** (failures - 1));
    this.ejections.set(address, { until: Date.now() + wait, failures });
  }

  isEjected(address: string): boolean {
    const ejection = this.ejections.get(address);
    return ejection !== undefined && ejection.until > Date.now();
  }

  inflight(address: string): number {
    return this.inflightByAddress.get(address) ?? 0;
  }

  /** Counts a call in flight to `address`; pair it with `end(address)`. */
  begin(address: string): void {
    this.inflightByAddress.set(address, this.inflight(address) + 1);
  }

  end(address: string): void {
    const n = this.inflight(address) - 1;
    if (n <= 0) this.inflightByAddress.delete(address);
    else this.inflightByAddress.set(address, n);
  }

  private candidates(services: readonly Service[], filters?: readonly Filter[]): Node[] {
    if (filters && filters.length > 0) {
      let filtered: readonly Service[] = services;
      for (const filter of filters) filtered = filter(filtered);
      return filtered.flatMap((s) => s.nodes);
    }
    let nodes = this.flattened.get(services);
    if (!nodes) {
      nodes = services.length === 1 ? services[0].nodes : services.flatMap((s) => s.nodes);
      this.flattened.set(services, nodes);
    }
    return nodes;
  }

  /**
   * Prefers nodes not excluded and not ejected; when that leaves nothing, falls back to the
   * excluded ones, then the ejected ones (a retry on a tried node beats no retry at all).
   */
  private usable(nodes: Node[], exclude?: ReadonlySet<string>): Node[] {
    if (this.ejections.size === 0 && (!exclude || exclude.size === 0)) return nodes;
    const untried = exclude && exclude.size > 0 ? nodes.filter((n) => !exclude.has(n.address)) : nodes;
    const allowed = untried.length > 0 ? untried : nodes;
    const healthy = allowed.filter((n) => !this.isEjected(n.address));
    return healthy.length > 0 ? healthy : allowed;
  }
}
