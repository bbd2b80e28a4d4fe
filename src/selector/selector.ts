/**
 * Client-side load balancing. A Filter narrows the services (versions) a call may go to; a
 * Strategy picks one node among what is left. Outliers (nodes that refuse connections, drop them,
 * or leave calls unanswered) are ejected for a while, with backoff, so that calls stop going to
 * them before the registry notices; an ejected node comes back on trial, one call at a time.
 */
import type { Node, ServiceRecord } from "../registry/registry.js";

/** Narrows the candidate services, e.g. to one version. Pure: returns a new array. */
export type Filter = (services: readonly ServiceRecord[]) => ServiceRecord[];

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
  return (services) => services.map((s) => ({ ...s, nodes: s.nodes.filter((n) => n.metadata?.[key] === value) })).filter((s) => s.nodes.length > 0);
}

/** Only services that advertise the endpoint (services that list no endpoints are kept). */
export function filterEndpoint(endpoint: string): Filter {
  return (services) => services.filter((s) => !s.endpoints?.length || s.endpoints.some((e) => e.name === endpoint));
}

/** A node that failed: left out of selection until `until`, then on trial. */
interface Ejection {
  until: number;
  /** Consecutive failures: each one doubles the next ejection. */
  failures: number;
}

/**
 * A circuit breaker's verdict on one endpoint of one node (see `Selector.openCircuit`): no calls
 * to the endpoint there until `until`, then one trial call at a time.
 */
interface Circuit {
  until: number;
  /** A trial call is in flight (half-open: one at a time). */
  trial: boolean;
}

/** Closed: calls flow. Open: none until it is time for a trial. Half-open: one trial call at a time. */
export type CircuitState = "closed" | "open" | "half-open";

/** This client's traffic to one node. */
interface NodeLoad {
  /** Unary calls waiting for a reply. */
  calls: number;
  /** Streams open (they may rightly stay silent for long, so they say nothing about liveness). */
  streams: number;
  /** Replies received so far: a node that answers anything is alive. */
  answers: number;
  /** `answers` when the node was last seen answering, and since when it has been quiet. */
  seen: number;
  quietSince: number;
  /** Replies from every node when this one fell quiet: its quiet time counts once others answer. */
  allSince: number;
  /** Since when it has been quiet on a client that nothing answered (it is then only suspected). */
  suspectSince: number;
}

/** What one look for silent nodes found (see Selector.ejectUnanswering). */
export interface SilentNodes {
  /** Silent while other nodes answered: ejected. */
  ejected: string[];
  /** Silent on a client that nothing answered: not ejected, to be checked another way. */
  suspected: string[];
}

export interface SelectorOptions {
  strategy?: Strategy;
  /** First ejection of a failing node, in ms; doubles per consecutive failure (default 250 ms). */
  ejectBase?: number;
  /** Longest ejection, in ms (default 30 s). */
  ejectMax?: number;
  /** The time in ms since the epoch (default Date.now); tests pass a clock they move by hand. */
  clock?: () => number;
}

export interface SelectOptions {
  filters?: readonly Filter[];
  strategy?: Strategy;
  /** Node addresses not to pick (e.g. those already tried by this call). */
  exclude?: ReadonlySet<string>;
  /** The endpoint called: nodes whose circuit for it is open are left out (see openCircuit). */
  endpoint?: string;
}

/**
 * Chooses nodes for calls. Stateless about the registry: the caller passes the service records
 * (from the registry cache) and the selector applies filters, ejections and the strategy.
 *
 * Ejection: `mark(address, true)` after a failure ejects the node for `ejectBase` ms, doubling
 * with each consecutive failure up to `ejectMax`. When the time is up the node is on trial: it
 * takes one call at a time until one succeeds (`mark(address, false)`), which readmits it fully;
 * a failed trial ejects it again for twice as long. Selection never comes back empty because of
 * ejections: when every candidate is ejected, the one whose ejection ends first is picked.
 */
export class Selector implements LoadInfo {
  readonly strategy: Strategy;
  private readonly ejections = new Map<string, Ejection>();
  /** Open and half-open circuits, by `circuitKey(address, endpoint)`. */
  private readonly circuits = new Map<string, Circuit>();
  private readonly loads = new Map<string, NodeLoad>();
  /** The one node whose record is kept while it has nothing in flight (see release). */
  private idle: string | undefined;
  /** Replies from every node so far. */
  private answers = 0;
  private readonly flattened = new WeakMap<readonly ServiceRecord[], Node[]>();
  private readonly ejectBase: number;
  private readonly ejectMax: number;
  private readonly clock: () => number;

  constructor(options: SelectorOptions = {}) {
    this.strategy = options.strategy ?? random;
    this.ejectBase = options.ejectBase ?? 250;
    this.ejectMax = options.ejectMax ?? 30_000;
    this.clock = options.clock ?? Date.now;
  }

  /**
   * Picks a node, or returns undefined when no node is left after filtering and exclusions, or
   * when the circuit for `options.endpoint` is open on every node left (a circuit breaker fails
   * such calls fast rather than sending them to a node it gave up on).
   */
  select(key: string, services: readonly ServiceRecord[], options: SelectOptions = {}): Node | undefined {
    const nodes = this.candidates(services, options.filters);
    let usable = this.usable(nodes, options.exclude);
    const endpoint = options.endpoint;
    if (this.circuits.size > 0 && endpoint !== undefined) usable = this.closedCircuits(usable, endpoint);
    if (usable.length === 0) return undefined;
    const node = (options.strategy ?? this.strategy).pick(usable, key, this);
    if (this.circuits.size > 0 && endpoint !== undefined) {
      const circuit = this.circuits.get(circuitKey(node.address, endpoint));
      if (circuit) circuit.trial = true; // the node was admitted on trial
    }
    return node;
  }

  /**
   * Opens the circuit for `endpoint` on `address` for `ms`: selection leaves the node out for
   * that endpoint, then admits one trial call at a time until closeCircuit (the trial succeeded)
   * or openCircuit again (it failed). The node's other endpoints are not affected; a node that
   * fails as a whole (refuses connections) is ejected by `mark` instead.
   */
  openCircuit(address: string, endpoint: string, ms: number): void {
    this.circuits.set(circuitKey(address, endpoint), { until: this.clock() + ms, trial: false });
  }

  closeCircuit(address: string, endpoint: string): void {
    if (this.circuits.size > 0) this.circuits.delete(circuitKey(address, endpoint));
  }

  circuit(address: string, endpoint: string): CircuitState {
    const circuit = this.circuits.get(circuitKey(address, endpoint));
    if (!circuit) return "closed";
    return circuit.until > this.clock() ? "open" : "half-open";
  }

  /** Ms until the first of these nodes' circuits for `endpoint` admits a trial (0 when one is closed). */
  circuitWait(addresses: readonly string[], endpoint: string): number {
    const now = this.clock();
    let wait = Infinity;
    for (const address of addresses) {
      const circuit = this.circuits.get(circuitKey(address, endpoint));
      wait = Math.min(wait, circuit ? Math.max(0, circuit.until - now) : 0);
    }
    return wait === Infinity ? 0 : wait;
  }

  /** The nodes whose circuit for `endpoint` is closed, or half-open with no trial in flight. */
  private closedCircuits(nodes: Node[], endpoint: string): Node[] {
    const now = this.clock();
    return nodes.filter((n) => {
      const circuit = this.circuits.get(circuitKey(n.address, endpoint));
      return !circuit || (circuit.until <= now && !circuit.trial);
    });
  }

  /**
   * Records the outcome of talking to a node: a failure (refused or dropped connection, a call
   * left unanswered) ejects it for a while; a success readmits it.
   */
  mark(address: string, failed: boolean): void {
    if (!failed) {
      if (this.ejections.size > 0) this.ejections.delete(address);
      return;
    }
    const failures = (this.ejections.get(address)?.failures ?? 0) + 1;
    const wait = Math.min(this.ejectMax, this.ejectBase * 2 ** (failures - 1));
    this.ejections.set(address, { until: this.clock() + wait, failures });
  }

  isEjected(address: string): boolean {
    const ejection = this.ejections.get(address);
    return ejection !== undefined && ejection.until > this.clock();
  }

  inflight(address: string): number {
    const load = this.loads.get(address);
    return load ? load.calls + load.streams : 0;
  }

  /**
   * Counts a unary call in flight to `address`; pair it with `end(address, answered)`. Returns
   * the node's reply count so far, for `answeredSince`.
   */
  begin(address: string): number {
    const load = this.load(address);
    load.calls++;
    return load.answers;
  }

  /** Ends a call counted by `begin`; `answered` when the node replied (with a result or an error). */
  end(address: string, answered: boolean): void {
    const load = this.loads.get(address);
    if (!load) return;
    if (answered) {
      load.answers++;
      this.answers++;
    }
    load.calls--;
    this.release(address, load);
  }

  /** Counts a stream open to `address` (for leastRequests); pair it with `endStream`. */
  beginStream(address: string): void {
    this.load(address).streams++;
  }

  endStream(address: string): void {
    const load = this.loads.get(address);
    if (!load) return;
    load.streams--;
    this.release(address, load);
  }

  /**
   * Whether `address` replied to anything since `begin` returned `answers`, while that call was
   * still in flight: a node that answers other calls is alive, merely slow on this one.
   */
  answeredSince(address: string, answers: number): boolean {
    return (this.loads.get(address)?.answers ?? answers) > answers;
  }

  /**
   * Finds nodes that have had calls waiting for `quietFor` ms without answering any of them.
   * One that stayed silent while other nodes answered this client is ejected: a frozen or wedged
   * process keeps its connections up, so nothing else notices. On a client that nothing at all
   * answered, silence proves nothing (a lone slow call, a long poll, or every caller stuck on
   * the same frozen node), so such a node is only suspected, once per `quietFor`, for the caller
   * to check another way (the client has the transport ping it). Run it periodically: a node
   * still silent when its ejection ends is ejected again, for twice as long.
   */
  ejectUnanswering(quietFor: number): SilentNodes {
    const now = this.clock();
    const found: SilentNodes = { ejected: [], suspected: [] };
    for (const [address, load] of this.loads) {
      if (load.calls === 0 || load.answers !== load.seen) {
        load.seen = load.answers;
        load.quietSince = now;
        load.suspectSince = now;
        load.allSince = this.answers;
      } else if (this.answers === load.allSince) {
        load.quietSince = now; // no node has answered since: the client is quiet, not surely this node
        if (now - load.suspectSince >= quietFor) {
          load.suspectSince = now;
          found.suspected.push(address);
        }
      } else if (now - load.quietSince >= quietFor) {
        load.quietSince = now;
        if (this.isEjected(address)) continue;
        this.mark(address, true);
        found.ejected.push(address);
      }
    }
    return found;
  }

  private load(address: string): NodeLoad {
    let load = this.loads.get(address);
    if (!load) {
      load = { calls: 0, streams: 0, answers: 0, seen: 0, quietSince: this.clock(), allSince: this.answers, suspectSince: this.clock() };
      this.loads.set(address, load);
    }
    return load;
  }

  /**
   * Forgets a node with nothing in flight (nodes come and go; their records must not pile up),
   * except the last one to go idle: a lone caller's next call most likely goes to the same node,
   * and would otherwise make and drop its record on every call.
   */
  private release(address: string, load: NodeLoad): void {
    if (load.calls > 0 || load.streams > 0) return;
    const kept = this.idle;
    this.idle = address;
    if (kept === undefined || kept === address) return;
    const previous = this.loads.get(kept);
    if (previous && previous.calls <= 0 && previous.streams <= 0) this.loads.delete(kept);
  }

  private candidates(services: readonly ServiceRecord[], filters?: readonly Filter[]): Node[] {
    if (filters && filters.length > 0) {
      let filtered: readonly ServiceRecord[] = services;
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
   * Prefers nodes not excluded and not ejected; when every node was excluded, the excluded ones
   * are allowed again (a retry on a tried node beats no retry at all); when every allowed node is
   * ejected, the least bad one.
   */
  private usable(nodes: Node[], exclude?: ReadonlySet<string>): Node[] {
    if (this.ejections.size === 0 && (!exclude || exclude.size === 0)) return nodes;
    const untried = exclude && exclude.size > 0 ? nodes.filter((n) => !exclude.has(n.address)) : nodes;
    const allowed = untried.length > 0 ? untried : nodes;
    if (this.ejections.size === 0) return allowed;
    const now = this.clock();
    const admitted = allowed.filter((n) => this.admits(n.address, now));
    return admitted.length > 0 || allowed.length === 0 ? admitted : [this.leastBad(allowed)];
  }

  /** A node takes calls unless ejected; once its ejection is over, one call at a time (a trial). */
  private admits(address: string, now: number): boolean {
    const ejection = this.ejections.get(address);
    if (!ejection) return true;
    return ejection.until <= now && (this.loads.get(address)?.calls ?? 0) === 0;
  }

  /** Among nodes that are all ejected or on trial: the one whose ejection ends first. */
  private leastBad(nodes: Node[]): Node {
    let best = nodes[0];
    let bestUntil = this.ejections.get(best.address)?.until ?? 0;
    for (const node of nodes) {
      const until = this.ejections.get(node.address)?.until ?? 0;
      if (until < bestUntil) [best, bestUntil] = [node, until];
    }
    return best;
  }
}

function circuitKey(address: string, endpoint: string): string {
  return `${address} ${endpoint}`;
}
