/**
 * Service discovery. The records are Go Micro's registry schema, field for field, so Go Micro and
 * ts-micro services can share one registry. A service is registered one node at a time with a TTL;
 * a node that stops re-registering disappears when its TTL runs out.
 */

/**
 * A service at one version, with the nodes that serve it: Go Micro's `registry.Service`, named
 * apart from the `Service` class a program runs.
 */
export interface ServiceRecord {
  name: string;
  version: string;
  metadata: Record<string, string> | null;
  endpoints: Endpoint[] | null;
  nodes: Node[];
}

/** One running instance of a service. `id` is `<service>-<uuid>`, `address` is `host:port`. */
export interface Node {
  id: string;
  address: string;
  metadata: Record<string, string> | null;
}

export interface Endpoint {
  name: string;
  request: Value | null;
  response: Value | null;
  metadata: Record<string, string> | null;
}

/** A description of a message type: a name, a type name and, for structures, its fields. */
export interface Value {
  name: string;
  type: string;
  values: Value[] | null;
}

export type WatchAction = "create" | "update" | "delete";

/** A change to the registry: a node of `service` was created, refreshed or removed. */
export interface WatchEvent {
  action: WatchAction;
  service: ServiceRecord;
}

export interface RegisterOptions {
  /** Milliseconds until the registration expires unless renewed. Default: 90 s (Go Micro's). */
  ttl?: number;
}

export interface WatchOptions {
  /** Only events for this service name. */
  service?: string;
}

/** A stream of registry changes; iterate it with `for await`, end it with `stop()`. */
export interface Watcher extends AsyncIterable<WatchEvent> {
  next(): Promise<IteratorResult<WatchEvent>>;
  stop(): void;
}

export interface Registry {
  /** The implementation's name: `memory`, `local`, `mdns`, `nats`, `etcd`. */
  readonly name: string;
  /** Adds or refreshes every node of `service`. */
  register(service: ServiceRecord, options?: RegisterOptions): Promise<void>;
  /** Removes the nodes of `service`; the service goes when its last node goes. */
  deregister(service: ServiceRecord): Promise<void>;
  /** Every version of a service; an empty array when it is not registered. */
  getService(name: string): Promise<ServiceRecord[]>;
  /** Every registered service (nodes and endpoints may be left out by some implementations). */
  listServices(): Promise<ServiceRecord[]>;
  watch(options?: WatchOptions): Watcher;
  /** Releases connections, timers and watchers. */
  close(): Promise<void>;
}

/**
 * A record this registry cannot hold (a name too long for DNS, an address it cannot publish):
 * unlike an unreachable registry, trying again will not help.
 */
export class InvalidRecordError extends Error {
  override name = "InvalidRecordError";
}

export const DEFAULT_REGISTER_TTL = 90_000;
export const DEFAULT_REGISTER_INTERVAL = 30_000;
