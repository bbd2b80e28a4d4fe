/**
 * The mDNS registry: zero-config discovery on a LAN, in Go Micro's record format (domain `micro.`,
 * see mdns-records.ts), so Go Micro and ts-micro services on one LAN find each other.
 *
 * Each process answers for the nodes it registered, on UDP 5353 (multicast 224.0.0.251):
 * - lookups ask `PTR <service>.micro.` from a fresh socket and collect answers for `timeout`
 *   (100 ms, Go Micro's); owners answer a query from port 5353 by multicast, any other query (Go
 *   Micro's client) straight back to its source, as Go Micro's server does;
 * - `register` announces the node's records (twice, a second apart, the first time; once per
 *   heartbeat after), `deregister` sends them with TTL 0 (a goodbye), which is what watchers hear.
 *
 * TTL. Go Micro's mDNS registry ignores it; here the record TTL is the registration TTL. An owner
 * stops answering for, and says goodbye to, a node not re-registered within its TTL; a watcher
 * treats a node not re-announced within its record TTL as suspect and confirms it with a lookup
 * (see liveness.ts). Go Micro nodes announce with a 120 s TTL and never again, and stay because
 * they still answer.
 *
 * Multicast doesn't cross routers and is often blocked in containers and VPNs: use nats or etcd
 * there. `interface` pins the registry to one interface (its IPv4 address).
 */

import type dgram from "node:dgram";
import type { RemoteInfo } from "node:dgram";
import os from "node:os";
import type { Packet } from "dns-packet";
import type { Options as MdnsOptions, MulticastDNS } from "multicast-dns";
import { builtin, loadDriver } from "../driver/driver.js";
import { Lazy } from "../driver/lazy.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import { NodeLiveness } from "./liveness.js";
import {
  DEFAULT_MDNS_DOMAIN,
  entriesOf,
  entryToRecord,
  instanceName,
  listedNames,
  listingName,
  listingRecords,
  nodeRecords,
  serviceName,
  splitAddress,
} from "./mdns-records.js";
import { cloneService, mergeServices, withNodes } from "./records.js";
import {
  DEFAULT_REGISTER_TTL,
  InvalidRecordError,
  type RegisterOptions,
  type Registry,
  type ServiceRecord,
  type Watcher,
  type WatchOptions,
} from "./registry.js";
import { WatcherSet } from "./watchers.js";

type MdnsFactory = (options?: MdnsOptions) => MulticastDNS;

export interface MdnsRegistryOptions {
  /** IPv4 address of the interface to use (`MICRO_REGISTRY_ADDRESS`). Default: every interface. */
  interface?: string;
  /** Milliseconds a lookup collects answers. Default 100 (Go Micro's). */
  timeout?: number;
  /** Default `micro` (Go Micro's). */
  domain?: string;
  /** Milliseconds between expiry checks. Default 500. */
  sweepInterval?: number;
  /** Where failures are logged. Default: the process logger. */
  logger?: Logger;
}

/** node:dgram, for the queries' sockets (multicast-dns opens its own). */
const nodeDgram = builtin<typeof dgram>("node:dgram");

const MDNS_PORT = 5353;
const MDNS_GROUP = "224.0.0.251";
/** Question types we answer (dns-packet's type list lacks ANY, which Go Micro's announcements use). */
const ANSWERED_TYPES = new Set(["PTR", "ANY", "SRV", "TXT"]);

interface OwnedNode {
  record: ServiceRecord;
  ttl: number;
  expiresAt: number;
}

export class MdnsRegistry implements Registry {
  readonly name = "mdns";
  private readonly iface: string | undefined;
  private readonly timeout: number;
  private readonly domain: string;
  private readonly sweepInterval: number;
  private readonly log: Logger;
  /** The SRV target and A record name: the host name, as Go Micro (dns-packet names have no trailing dot). */
  private readonly hostName = os.hostname();
  private readonly owned = new Map<string, OwnedNode>();
  private readonly heard = new NodeLiveness(
    { emit: (action, record) => this.watchers.emit(action, record), lookup: (name) => this.getService(name) },
    DEFAULT_REGISTER_TTL,
  );
  private readonly watchers = new WatcherSet();
  private readonly responder = new Lazy(() => this.open());
  private factory: MdnsFactory | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private watching = false;
  private closed = false;

  constructor(options: MdnsRegistryOptions = {}) {
    this.iface = options.interface || undefined;
    this.timeout = options.timeout ?? 100;
    this.domain = options.domain ?? DEFAULT_MDNS_DOMAIN;
    this.sweepInterval = options.sweepInterval ?? 500;
    this.log = options.logger ?? defaultLogger();
  }

  async register(service: ServiceRecord, options: RegisterOptions = {}): Promise<void> {
    // Fail now, not in the middle of answering.
    for (const node of service.nodes) {
      splitAddress(node.address);
      assertDnsName(instanceName(node.id, service.name, this.domain));
    }
    const mdns = await this.responder.get();
    const ttl = options.ttl ?? DEFAULT_REGISTER_TTL;
    for (const node of service.nodes) {
      const key = nodeKey(service.name, node.id);
      const isNew = !this.owned.has(key);
      const record = cloneService(withNodes(service, [node]));
      this.owned.set(key, { record, ttl, expiresAt: Date.now() + ttl });
      this.announce(mdns, key);
      // RFC 6762 §8.3: a new record is announced at least twice, a second apart (a lost packet is likely on Wi-Fi).
      if (isNew) setTimeout(() => this.announce(mdns, key), 1_000).unref();
    }
  }

  async deregister(service: ServiceRecord): Promise<void> {
    const mdns = await this.responder.get();
    for (const node of service.nodes) {
      const owned = this.owned.get(nodeKey(service.name, node.id));
      if (owned) this.goodbye(mdns, owned);
    }
  }

  async getService(name: string): Promise<ServiceRecord[]> {
    const packets = await this.query(serviceName(name, this.domain));
    const records = packets.flatMap((packet) => entriesOf(packet));
    const nodes = records.filter((entry) => entry.ttl > 0).map((entry) => entryToRecord(entry, this.domain));
    const services = mergeServices(nodes.filter((record): record is ServiceRecord => record?.name === name));
    if (this.watching) this.heard.lookedUp(name, services);
    return services;
  }

  /** Names from Go Micro's `_services` listing, then each looked up, so versions are known. */
  async listServices(): Promise<ServiceRecord[]> {
    const packets = await this.query(listingName(this.domain));
    const names = new Set(packets.flatMap((packet) => listedNames(packet, this.domain)));
    return (await Promise.all([...names].map((name) => this.getService(name)))).flat();
  }

  watch(options: WatchOptions = {}): Watcher {
    const watcher = this.watchers.add(options);
    this.watching = true;
    this.responder.get().catch((err: unknown) => {
      this.log.warn("mdns registry: cannot listen", { error: String(err) });
      watcher.stop();
    });
    return watcher;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    this.watchers.stopAll();
    const mdns = await this.responder.peek()?.catch(() => undefined);
    await new Promise<void>((resolve) => (mdns ? mdns.destroy(() => resolve()) : resolve()));
  }

  // --- the responder: the socket on 5353 ------------------------------------------------------------

  private async open(): Promise<MulticastDNS> {
    if (this.closed) throw new Error("mdns registry: closed");
    this.factory ??= (await loadDriver<{ default: MdnsFactory }>("multicast-dns", "mdns registry")).default;
    const mdns = this.factory({ port: MDNS_PORT, interface: this.iface, bind: "0.0.0.0", reuseAddr: true, loopback: true });
    await new Promise<void>((resolve, reject) => {
      mdns.once("ready", resolve);
      mdns.once("error", (err: Error) => reject(new Error(`mdns registry: cannot listen on UDP ${MDNS_PORT}: ${err.message}`)));
    });
    mdns.on("error", (err: Error) => this.log.warn("mdns registry: socket error", { error: err.message }));
    mdns.on("warning", (err: Error) => this.log.debug("mdns registry: warning", { error: err.message }));
    mdns.on("query", (packet: Packet, rinfo: RemoteInfo) => this.answer(mdns, packet, rinfo));
    mdns.on("response", (packet: Packet) => this.onResponse(packet));
    this.sweeper = setInterval(() => this.sweep(mdns), this.sweepInterval).unref();
    return mdns;
  }

  /** Answers questions about our nodes: one message per node, as Go's per-node servers do. */
  private answer(mdns: MulticastDNS, query: Packet, rinfo: RemoteInfo): void {
    const now = Date.now();
    const live = [...this.owned.values()].filter((owned) => owned.expiresAt > now);
    for (const question of query.questions ?? []) {
      if (!ANSWERED_TYPES.has(String(question.type))) continue;
      const messages = this.answersFor(question.name, live);
      for (const answers of messages) this.reply(mdns, query, rinfo, answers);
    }
  }

  private answersFor(name: string, live: OwnedNode[]): ReturnType<typeof nodeRecords>[] {
    if (name === listingName(this.domain)) {
      const names = new Set(live.map((owned) => owned.record.name));
      return [...names].map((service) => listingRecords(service, this.hostName, 120, this.domain));
    }
    return live
      .filter(({ record }) => name === serviceName(record.name, this.domain) || name === instanceName(record.nodes[0].id, record.name, this.domain))
      .map((owned) => this.recordsOf(owned));
  }

  /** To a querier on 5353 by multicast (others may want it too); to anyone else straight back, as Go Micro does. */
  private reply(mdns: MulticastDNS, query: Packet, rinfo: RemoteInfo, answers: ReturnType<typeof nodeRecords>): void {
    if (rinfo.port === MDNS_PORT) mdns.respond({ answers });
    else mdns.respond({ id: query.id, questions: query.questions, answers }, { port: rinfo.port, address: rinfo.address } as RemoteInfo);
  }

  private recordsOf(owned: OwnedNode): ReturnType<typeof nodeRecords> {
    return nodeRecords(owned.record, this.hostName, Math.max(1, Math.ceil(owned.ttl / 1000)), this.domain);
  }

  private announce(mdns: MulticastDNS, key: string): void {
    const owned = this.owned.get(key);
    if (!owned || this.closed) return;
    const firstOfService = ![...this.owned.values()].some((other) => other !== owned && other.record.name === owned.record.name);
    mdns.respond({ answers: this.recordsOf(owned) });
    // A message of its own: its A record (0.0.0.0) names the same host as the node's.
    if (firstOfService) mdns.respond({ answers: listingRecords(owned.record.name, this.hostName, 120, this.domain) });
  }

  /** Forgets a node and multicasts its records with TTL 0, so listeners drop it now. */
  private goodbye(mdns: MulticastDNS, owned: OwnedNode): void {
    const { record } = owned;
    this.owned.delete(nodeKey(record.name, record.nodes[0].id));
    const lastOfService = ![...this.owned.values()].some((other) => other.record.name === record.name);
    mdns.respond({ answers: nodeRecords(record, this.hostName, 0, this.domain) });
    if (lastOfService) mdns.respond({ answers: listingRecords(record.name, this.hostName, 0, this.domain) });
  }

  // --- listening -------------------------------------------------------------------------------------

  /** Announcements, goodbyes and multicast answers from anyone (ourselves included). */
  private onResponse(packet: Packet): void {
    if (!this.watching) return;
    for (const entry of entriesOf(packet)) {
      const record = entryToRecord(entry, this.domain);
      if (!record) continue;
      if (entry.ttl === 0) this.heard.removed(record);
      else this.heard.announced(record, entry.ttl * 1000);
    }
  }

  private sweep(mdns: MulticastDNS): void {
    const now = Date.now();
    for (const owned of [...this.owned.values()]) if (owned.expiresAt <= now) this.goodbye(mdns, owned);
    if (this.watching) this.heard.sweep();
  }

  // --- lookups ---------------------------------------------------------------------------------------

  /**
   * Asks `PTR <name>` from a fresh socket on an ephemeral port, as Go Micro's client does: Go
   * Micro's servers answer to the query's source, which on port 5353 would reach only one of the
   * processes sharing it.
   */
  private async query(name: string): Promise<Packet[]> {
    await this.responder.get(); // so that this process answers its own questions
    const socket = nodeDgram().createSocket({ type: "udp4" });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    const client = this.factory!({ socket, port: MDNS_PORT, multicast: false, bind: false });
    if (this.iface) socket.setMulticastInterface(this.iface);
    socket.setMulticastLoopback(true);
    const packets: Packet[] = [];
    client.on("response", (packet: Packet) => packets.push(packet));
    client.on("warning", () => {});
    try {
      await new Promise<void>((resolve, reject) =>
        client.query({ questions: [{ name, type: "PTR" }] }, { port: MDNS_PORT, address: MDNS_GROUP } as RemoteInfo, (err?: Error | null) =>
          err ? reject(err) : resolve(),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, this.timeout));
    } finally {
      await new Promise<void>((resolve) => client.destroy(() => resolve()));
    }
    return packets.filter((packet) => packet.questions?.[0]?.name === undefined || packet.questions[0].name === name);
  }
}

/**
 * DNS limits labels to 63 bytes and names to 255: a node id `<service>-<uuid>` is one label, so
 * service names longer than 26 characters don't fit (Go Micro has the same limit, and fails quietly).
 */
function assertDnsName(name: string): void {
  const tooLong = name.split(".").find((label) => Buffer.byteLength(label) > 63);
  if (tooLong !== undefined || Buffer.byteLength(name) > 253) {
    throw new InvalidRecordError(
      `mdns registry: ${JSON.stringify(tooLong ?? name)} is too long for DNS (labels up to 63 bytes, names up to 253); use a shorter service name or node id`,
    );
  }
}

function nodeKey(service: string, nodeId: string): string {
  return `${service}\u0000${nodeId}`;
}
