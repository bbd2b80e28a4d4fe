/**
 * Maps implementation names (from options or Go Micro's env vars) to plugins. A name may be a
 * plain name (`memory`) or a URL whose scheme names the plugin (`nats://127.0.0.1:4222`).
 */
import { MemoryRegistry } from "../registry/memory.js";
import { LocalRegistry } from "../registry/local.js";
import { EtcdRegistry } from "../registry/etcd.js";
import { MdnsRegistry } from "../registry/mdns.js";
import { NatsRegistry } from "../registry/nats.js";
import type { Registry } from "../registry/registry.js";
import { MemoryTransport } from "../transport/memory.js";
import { goMicroSniffer, HttpTransport } from "../transport/http/http.js";
import { MuxTransport } from "../transport/mux/mux.js";
import { NatsTransport } from "../transport/nats/nats.js";
import type { Transport } from "../transport/transport.js";

let sharedMemoryRegistry: MemoryRegistry | undefined;

/** Splits `nats://host:4222` into plugin `nats` and address `host:4222`; a bare name has no address. */
export function parsePluginName(value: string, address?: string): { plugin: string; address?: string } {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(value);
  if (match) return { plugin: match[1].toLowerCase(), address: address ?? (match[2] || undefined) };
  return { plugin: value.toLowerCase(), address };
}

/** The registry named by `name` (default: `MICRO_REGISTRY`, else `local`). */
export function resolveRegistry(name = process.env.MICRO_REGISTRY || "local", address = process.env.MICRO_REGISTRY_ADDRESS || undefined): Registry {
  const { plugin, address: where } = parsePluginName(name, address);
  switch (plugin) {
    case "local":
      return new LocalRegistry(where ? { path: where } : {});
    case "memory":
      // One per process, so that services and clients in one process find each other.
      return (sharedMemoryRegistry ??= new MemoryRegistry());
    case "nats":
      // Network registries connect (and import their driver) on first use, so this stays synchronous.
      return new NatsRegistry({ servers: where });
    case "etcd":
      return new EtcdRegistry({ hosts: where });
    case "mdns":
      // The address, if any, is the IPv4 address of the interface to multicast on.
      return new MdnsRegistry({ interface: where });
    default:
      throw new Error(`unknown registry ${JSON.stringify(plugin)} (MICRO_REGISTRY): available are local, memory, mdns, nats, etcd`);
  }
}

/** The transport named by `name` (default: `MICRO_TRANSPORT`, else `mux`; `MICRO_TRANSPORT_ADDRESS` for nats). */
export function resolveTransport(name = process.env.MICRO_TRANSPORT || "mux", address = process.env.MICRO_TRANSPORT_ADDRESS || undefined): Transport {
  const { plugin, address: where } = parsePluginName(name, address);
  switch (plugin) {
    case "mux":
      // The mux port also answers Go Micro's HTTP transport, so Go Micro clients reach a default service.
      return new MuxTransport({ sniff: goMicroSniffer() });
    case "http":
      return new HttpTransport();
    case "memory":
      return new MemoryTransport();
    case "nats":
      // Connects (and imports its driver) on first listen or dial.
      return new NatsTransport({ servers: where });
    default:
      throw new Error(`unknown transport ${JSON.stringify(plugin)} (MICRO_TRANSPORT): available are mux, http, memory, nats`);
  }
}

/** The transport for nodes that do not speak the client's own: Go Micro services speak HTTP. */
export function resolveForeignTransport(): Transport {
  return new HttpTransport();
}

/** Reads a duration from the environment: plain numbers are seconds (Go Micro's flags), or `500ms`, `5s`, `2m`. */
export function envDuration(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const ms = parseDuration(raw);
  if (ms === undefined) throw new Error(`${name}=${JSON.stringify(raw)} is not a duration (use seconds, or 500ms, 5s, 2m)`);
  return ms;
}

export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)?$/.exec(text.trim());
  if (!match) return undefined;
  const value = Number(match[1]);
  const unit = match[2] ?? "s";
  const factor: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  return value * factor[unit];
}

export function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name}=${JSON.stringify(raw)} is not a whole number`);
  return value;
}

/** `a=1,b=2` → `{a: "1", b: "2"}` (Go Micro's MICRO_SERVER_METADATA format). */
export function envMetadata(name: string): Record<string, string> | undefined {
  const raw = process.env[name];
  if (!raw) return undefined;
  const out: Record<string, string> = {};
  for (const pair of raw.split(",")) {
    const eq = pair.indexOf("=");
    if (eq > 0) out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}
