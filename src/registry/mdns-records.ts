/**
 * Go Micro's mDNS records (`registry/mdns_registry.go`, `internal/util/mdns/zone.go`), built and
 * parsed with dns-packet's shapes (names without the trailing dot).
 *
 * Per node: PTR `<service>.micro` → `<node id>.<service>.micro`; SRV on the instance (priority 10,
 * weight 1, the node's port, target the host name); A (or AAAA) for the host name; TXT on the
 * instance holding `hex(zlib(json(mdnsTxt)))` in 255-character strings. Per service, a listing
 * entry `<service>._services.micro` (port 9999, address 0.0.0.0, empty TXT) answers
 * `_services.micro`, which is how Go Micro lists services.
 */

import net from "node:net";
import type zlib from "node:zlib";
import type { Answer, Packet } from "dns-packet";
import { builtin } from "../driver/driver.js";
import { type Endpoint, InvalidRecordError, type ServiceRecord } from "./registry.js";

const nodeZlib = builtin<typeof zlib>("node:zlib");

export const DEFAULT_MDNS_DOMAIN = "micro";
const LISTING = "_services";
const LISTING_PORT = 9999;

/**
 * Go's `mdnsTxt` (no json tags, hence the capitals). Go Micro doesn't carry service-level metadata
 * over mDNS; we add it as `ServiceMetadata` when there is any, which Go's decoder ignores.
 */
interface MdnsTxt {
  Metadata: Record<string, string> | null;
  Service: string;
  Version: string;
  Endpoints: Endpoint[] | null;
  ServiceMetadata?: Record<string, string>;
}

/** TXT strings for a one-node record: json → zlib → lowercase hex → 255-character strings. */
export function encodeTxt(record: ServiceRecord): string[] {
  const txt: MdnsTxt = { Metadata: record.nodes[0]?.metadata ?? null, Service: record.name, Version: record.version, Endpoints: record.endpoints };
  if (record.metadata && Object.keys(record.metadata).length > 0) txt.ServiceMetadata = record.metadata;
  const hex = nodeZlib().deflateSync(JSON.stringify(txt)).toString("hex");
  const strings: string[] = [];
  for (let i = 0; i < hex.length; i += 255) strings.push(hex.slice(i, i + 255));
  return strings.length > 0 ? strings : [""];
}

export function decodeTxt(strings: ReadonlyArray<string | Uint8Array>): MdnsTxt | undefined {
  try {
    const hex = strings.map((s) => (typeof s === "string" ? s : Buffer.from(s).toString("latin1"))).join("");
    const value: unknown = JSON.parse(nodeZlib().inflateSync(Buffer.from(hex, "hex")).toString("utf8"));
    if (typeof value !== "object" || value === null) return undefined;
    const txt = value as Partial<MdnsTxt>;
    if (typeof txt.Service !== "string" || typeof txt.Version !== "string") return undefined;
    return {
      Metadata: isStrings(txt.Metadata) ? txt.Metadata : null,
      Service: txt.Service,
      Version: txt.Version,
      Endpoints: Array.isArray(txt.Endpoints) ? txt.Endpoints : null,
      ServiceMetadata: isStrings(txt.ServiceMetadata) ? txt.ServiceMetadata : undefined,
    };
  } catch {
    return undefined;
  }
}

function isStrings(value: unknown): value is Record<string, string> {
  return typeof value === "object" && value !== null && Object.values(value).every((v) => typeof v === "string");
}

export function serviceName(service: string, domain: string): string {
  return `${service}.${domain}`;
}

export function listingName(domain: string): string {
  return `${LISTING}.${domain}`;
}

export function instanceName(nodeId: string, service: string, domain: string): string {
  return `${nodeId}.${service}.${domain}`;
}

/** The records that answer for one node (a one-node record), with the TTL in seconds (0: goodbye). */
export function nodeRecords(record: ServiceRecord, hostName: string, ttl: number, domain: string): Answer[] {
  const node = record.nodes[0];
  const { host, port } = splitAddress(node.address);
  const instance = instanceName(node.id, record.name, domain);
  return [
    { type: "PTR", name: serviceName(record.name, domain), ttl, data: instance },
    { type: "SRV", name: instance, ttl, data: { priority: 10, weight: 1, port, target: hostName } },
    { type: net.isIPv6(host) ? "AAAA" : "A", name: hostName, ttl, data: host },
    { type: "TXT", name: instance, ttl, data: encodeTxt(record) },
  ];
}

/** The `_services` listing entry for a service name. */
export function listingRecords(service: string, hostName: string, ttl: number, domain: string): Answer[] {
  const instance = instanceName(service, LISTING, domain);
  return [
    { type: "PTR", name: listingName(domain), ttl, data: instance },
    { type: "SRV", name: instance, ttl, data: { priority: 10, weight: 1, port: LISTING_PORT, target: hostName } },
    { type: "A", name: hostName, ttl, data: "0.0.0.0" },
    { type: "TXT", name: instance, ttl, data: [] },
  ];
}

/** A node's address split for its SRV and A records; mDNS needs an IP, as in Go Micro. */
export function splitAddress(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address);
  const host = match?.[1] ?? "";
  const port = Number(match?.[2]);
  if (!net.isIP(host) || !(port > 0 && port < 65_536)) {
    throw new InvalidRecordError(`mdns registry: node address ${JSON.stringify(address)} is not ip:port (mDNS publishes an IP address)`);
  }
  return { host, port };
}

/** One instance found in a message: what Go's ServiceEntry holds once complete. */
export interface MdnsEntry {
  instance: string;
  address: string;
  port: number;
  txt: Array<string | Uint8Array>;
  /** Seconds; 0 is a goodbye. */
  ttl: number;
}

/** The complete instances (SRV + TXT + an address) in one message, as Go's messageToEntry assembles them. */
export function entriesOf(packet: Packet): MdnsEntry[] {
  const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])];
  const addresses = new Map<string, string>();
  for (const rr of records) if ((rr.type === "A" || rr.type === "AAAA") && typeof rr.data === "string") addresses.set(rr.name, rr.data);
  const txts = new Map<string, { data: Array<string | Uint8Array>; ttl: number }>();
  for (const rr of records) {
    if (rr.type === "TXT") txts.set(rr.name, { data: ([] as Array<string | Uint8Array>).concat(rr.data), ttl: rr.ttl ?? 0 });
  }
  const entries: MdnsEntry[] = [];
  for (const rr of records) {
    if (rr.type !== "SRV") continue;
    const txt = txts.get(rr.name);
    const address = addresses.get(rr.data.target);
    if (!txt || !address) continue;
    entries.push({ instance: rr.name, address, port: rr.data.port, txt: txt.data, ttl: Math.min(rr.ttl ?? 0, txt.ttl) });
  }
  return entries;
}

/** The one-node record an entry describes, or undefined when it is not a Go Micro node. */
export function entryToRecord(entry: MdnsEntry, domain: string): ServiceRecord | undefined {
  const txt = decodeTxt(entry.txt);
  if (!txt?.Service || !txt.Version) return undefined;
  const suffix = `.${txt.Service}.${domain}`;
  if (!entry.instance.endsWith(suffix)) return undefined;
  const host = net.isIPv6(entry.address) ? `[${entry.address}]` : entry.address;
  return {
    name: txt.Service,
    version: txt.Version,
    metadata: txt.ServiceMetadata ?? null,
    endpoints: txt.Endpoints,
    nodes: [{ id: entry.instance.slice(0, -suffix.length), address: `${host}:${entry.port}`, metadata: txt.Metadata }],
  };
}

/** Service names in answers to a `_services` query. */
export function listedNames(packet: Packet, domain: string): string[] {
  const suffix = `.${LISTING}.${domain}`;
  return (packet.answers ?? [])
    .flatMap((rr) => (rr.type === "PTR" && rr.name === listingName(domain) && (rr.ttl ?? 0) > 0 ? [rr.data] : []))
    .filter((data) => data.endsWith(suffix))
    .map((data) => data.slice(0, -suffix.length));
}
