/**
 * The one place that maps implementation names (from options or Go Micro's env vars) to plugins:
 * registry, transport, broker, events, store, sync and auth. A name may be a plain name (`memory`) or a URL whose
 * scheme names the plugin (`nats://127.0.0.1:4222`). Networked plugins load their drivers only
 * when used, so resolving costs nothing for programs that stay on the defaults.
 */
import { readFileSync } from "node:fs";
import type { Auth } from "../auth/auth.js";
import { JwtAuth } from "../auth/jwt.js";
import { NoopAuth } from "../auth/noop.js";
import type { Broker } from "../broker/broker.js";
import { HttpBroker, type HttpBrokerTlsOptions } from "../broker/http.js";
import { MemoryBroker } from "../broker/memory.js";
import { MqttBroker } from "../broker/mqtt.js";
import { NatsBroker } from "../broker/nats.js";
import { RabbitMQBroker } from "../broker/rabbitmq.js";
import { RedisBroker } from "../broker/redis.js";
import type { Config, WritableSource } from "../config/config.js";
import { EtcdSource } from "../config/etcd.js";
import { NatsSource } from "../config/nats.js";
import type { Stream } from "../events/events.js";
import { MemoryStream } from "../events/memory.js";
import { NatsStream } from "../events/nats.js";
import { deferredGrpcTransport } from "../grpc/deferred.js";
import type { Logger } from "../logger/logger.js";
import { EtcdRegistry } from "../registry/etcd.js";
import { LocalRegistry } from "../registry/local.js";
import { MdnsRegistry } from "../registry/mdns.js";
import { MemoryRegistry } from "../registry/memory.js";
import { NatsRegistry } from "../registry/nats.js";
import type { Registry } from "../registry/registry.js";
import type { NodeSigner, NodeVerifier } from "../registry/signature.js";
import { FileStore } from "../store/file.js";
import { MemoryStore } from "../store/memory.js";
import { NatsStore } from "../store/nats.js";
import { PostgresStore } from "../store/postgres.js";
import { RedisStore } from "../store/redis.js";
import type { Store } from "../store/store.js";
import { EtcdSync } from "../sync/etcd.js";
import { MemorySync } from "../sync/memory.js";
import { NatsSync } from "../sync/nats.js";
import { RedisSync } from "../sync/redis.js";
import type { Sync } from "../sync/sync.js";
import { goMicroSniffer, HttpTransport } from "../transport/http/http.js";
import { MemoryTransport } from "../transport/memory.js";
import { MuxTransport } from "../transport/mux/mux.js";
import { NatsTransport } from "../transport/nats/nats.js";
import type { TlsOptions } from "../transport/tls.js";
import type { Transport } from "../transport/transport.js";
import { Settings } from "./settings.js";

let sharedMemoryRegistry: MemoryRegistry | undefined;

/** Splits `nats://host:4222` into plugin `nats` and address `host:4222`; a bare name has no address. */
export function parsePluginName(value: string, address?: string): { plugin: string; address?: string } {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(value);
  if (match) return { plugin: match[1].toLowerCase(), address: address ?? (match[2] || undefined) };
  return { plugin: value.toLowerCase(), address };
}

/** The registry named by `name` (default: `MICRO_REGISTRY`, else `local`). */
export function resolveRegistry(
  name = process.env.MICRO_REGISTRY || "local",
  address = process.env.MICRO_REGISTRY_ADDRESS || undefined,
  options: { logger?: Logger } = {},
): Registry {
  const { plugin, address: where } = parsePluginName(name, address);
  const logger = options.logger;
  switch (plugin) {
    case "local":
      return new LocalRegistry(where ? { path: where, logger } : { logger });
    case "memory":
      // One per process, so that services and clients in one process find each other.
      sharedMemoryRegistry ??= new MemoryRegistry();
      return sharedMemoryRegistry;
    case "nats":
      // Network registries connect (and import their driver) on first use, so this stays synchronous.
      return new NatsRegistry({ servers: where, logger });
    case "etcd":
      return new EtcdRegistry({ hosts: where, logger });
    case "mdns":
      // The address, if any, is the IPv4 address of the interface to multicast on.
      return new MdnsRegistry({ interface: where, logger });
    default:
      throw new Error(`unknown registry ${JSON.stringify(plugin)} (MICRO_REGISTRY): available are local, memory, mdns, nats, etcd`);
  }
}

/**
 * The transport named by `name` (default: `MICRO_TRANSPORT`, else `mux`; `MICRO_TRANSPORT_ADDRESS`
 * for nats); mux's TLS from `tlsEnv` (see transportTlsFromEnv), and its header references (`MICRO_MUX_HEADER_REFS`).
 */
export function resolveTransport(
  name = process.env.MICRO_TRANSPORT || "mux",
  address = process.env.MICRO_TRANSPORT_ADDRESS || undefined,
  tlsEnv: Record<string, string | undefined> = process.env,
): Transport {
  const { plugin, address: where } = parsePluginName(name, address);
  switch (plugin) {
    case "mux":
      // The mux port also answers Go Micro's HTTP transport, so Go Micro clients reach a default service.
      return new MuxTransport({ sniff: goMicroSniffer(), tls: transportTlsFromEnv(tlsEnv), headerRefSlots: headerRefsOff(tlsEnv) ? 0 : undefined });
    case "http":
      return new HttpTransport({ tls: transportTlsFromEnv(tlsEnv) });
    case "memory":
      return new MemoryTransport();
    case "nats":
      // Connects (and imports its driver) on first listen or dial.
      return new NatsTransport({ servers: where });
    default:
      throw new Error(`unknown transport ${JSON.stringify(plugin)} (MICRO_TRANSPORT): available are mux, http, memory, nats`);
  }
}

/**
 * TLS for the mux and http transports from the environment: on with `MICRO_TRANSPORT_SECURE=true`;
 * this node's certificate and key from `MICRO_TLS_CERT` and `MICRO_TLS_KEY`, the trusted CA from
 * `MICRO_TLS_CA` (PEM file paths; default CA: the system's), mTLS with
 * `MICRO_TLS_CLIENT_AUTH=require`, and service names checked against server certificates with
 * `MICRO_TLS_VERIFY_SERVICE=true`. Undefined (plaintext) otherwise.
 */
export function transportTlsFromEnv(env: Record<string, string | undefined> = process.env): TlsOptions | undefined {
  if (!envSwitch(env, "MICRO_TRANSPORT_SECURE")) return undefined;
  const clientAuth = env.MICRO_TLS_CLIENT_AUTH || "none";
  if (clientAuth !== "none" && clientAuth !== "require") throw new Error(`MICRO_TLS_CLIENT_AUTH=${clientAuth}: expected require or none`);
  return {
    cert: pemFile(env, "MICRO_TLS_CERT"),
    key: pemFile(env, "MICRO_TLS_KEY"),
    ca: pemFile(env, "MICRO_TLS_CA"),
    clientAuth,
    serverName: env.MICRO_TLS_SERVER_NAME || undefined,
    verifyService: envSwitch(env, "MICRO_TLS_VERIFY_SERVICE"),
  };
}

/**
 * The HTTP broker's TLS from the same switches as the transports': with MICRO_TRANSPORT_SECURE the
 * subscriber port serves HTTPS with MICRO_TLS_CERT/KEY (mTLS with MICRO_TLS_CLIENT_AUTH=require),
 * and deliveries trust MICRO_TLS_CA and present this node's certificate. Undefined otherwise.
 */
export function brokerTlsFromEnv(env: Record<string, string | undefined> = process.env): HttpBrokerTlsOptions | undefined {
  const tls = transportTlsFromEnv(env);
  if (!tls) return undefined;
  const ca = tls.ca === undefined ? undefined : Array.isArray(tls.ca) ? tls.ca : [tls.ca];
  return { ca, cert: tls.cert, key: tls.key, clientAuth: tls.clientAuth };
}

/** `MICRO_MUX_HEADER_REFS=false`: the mux transport sends every header in full, as versions without references did. */
function headerRefsOff(env: Record<string, string | undefined>): boolean {
  return env.MICRO_MUX_HEADER_REFS !== undefined && env.MICRO_MUX_HEADER_REFS !== "" && !envSwitch(env, "MICRO_MUX_HEADER_REFS");
}

/** A true/false env var (also 1/0; unset is false). */
function envSwitch(env: Record<string, string | undefined>, variable: string): boolean {
  const value = env[variable]?.toLowerCase();
  if (!value || value === "false" || value === "0") return false;
  if (value === "true" || value === "1") return true;
  throw new Error(`${variable}=${env[variable]}: expected true or false`);
}

function pemFile(env: Record<string, string | undefined>, variable: string): Buffer | undefined {
  const path = env[variable];
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${variable}=${path}: cannot read the file: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * The transport for nodes that do not speak the client's own: Go Micro services speak HTTP. With
 * MICRO_TRANSPORT_SECURE it speaks TLS too (Go Micro's `transport.Secure`): a secure system does
 * not fall back to plaintext for foreign nodes.
 */
/**
 * The client's gRPC transport when MICRO_TRANSPORT_SECURE is on: TLS with the same MICRO_TLS_*
 * settings as the other transports. Undefined otherwise (the client then makes a plaintext one).
 */
export function resolveGrpcTransport(tlsEnv: Record<string, string | undefined> = process.env): Transport | undefined {
  const tls = transportTlsFromEnv(tlsEnv);
  return tls ? deferredGrpcTransport({ tls }) : undefined;
}

export function resolveForeignTransport(tlsEnv: Record<string, string | undefined> = process.env): Transport {
  return new HttpTransport({ tls: transportTlsFromEnv(tlsEnv) });
}

export const BROKERS = ["http", "memory", "nats", "redis", "rabbitmq", "mqtt"] as const;

export interface ResolveBrokerOptions {
  /** The registry the http broker registers subscribers in (default: the one MICRO_REGISTRY names). */
  registry?: Registry;
  logger?: Logger;
  /** The http broker signs its subscriber nodes with this (a service's auth signer). */
  signer?: NodeSigner;
  /** The http broker delivers only to subscriber nodes whose signature this verifies (MICRO_REGISTRY_VERIFY). */
  verifier?: NodeVerifier;
}

let sharedMemoryBroker: MemoryBroker | undefined;

/**
 * The broker named by `name` (default: `MICRO_BROKER`, else `http`) at `address` (default:
 * `MICRO_BROKER_ADDRESS`, else the URL's host, else the plugin's default).
 */
export function resolveBroker(
  name = process.env.MICRO_BROKER || "http",
  address = process.env.MICRO_BROKER_ADDRESS || undefined,
  options: ResolveBrokerOptions = {},
): Broker {
  const { plugin, address: where } = parsePluginName(name, address);
  const logger = options.logger;
  switch (plugin) {
    case "http":
      return new HttpBroker({
        registry: options.registry ?? resolveRegistry(),
        address: where,
        logger,
        tls: brokerTlsFromEnv(),
        signer: options.signer,
        verifier: options.verifier,
      });
    case "memory":
      // One per process, so that services and clients in one process reach each other.
      sharedMemoryBroker ??= new MemoryBroker({ logger });
      return sharedMemoryBroker;
    case "nats":
      return new NatsBroker({ address: where, logger });
    case "redis":
    case "rediss":
      return new RedisBroker({ address: name.includes("://") && !address ? name : where, logger });
    case "rabbitmq":
    case "amqp":
    case "amqps":
      return new RabbitMQBroker({ address: name.includes("://") && !address && plugin !== "rabbitmq" ? name : where, logger });
    case "mqtt":
    case "mqtts":
      return new MqttBroker({ address: where, logger });
    default:
      throw new Error(`unknown broker ${JSON.stringify(plugin)} (MICRO_BROKER): available are ${BROKERS.join(", ")}`);
  }
}

let sharedMemoryStream: MemoryStream | undefined;

/**
 * The events stream named by `name` (`MICRO_EVENTS`). When MICRO_EVENTS is unset and the broker
 * is NATS (`MICRO_BROKER=nats`), events use the same NATS server, so one setting moves a system
 * to NATS; otherwise the default is `memory`.
 */
export function resolveEvents(
  name = defaultEventsName(),
  address = process.env.MICRO_EVENTS_ADDRESS || defaultEventsAddress(),
  options: { logger?: Logger } = {},
): Stream {
  const { plugin, address: where } = parsePluginName(name, address);
  switch (plugin) {
    case "memory":
      sharedMemoryStream ??= new MemoryStream(options);
      return sharedMemoryStream;
    case "nats":
    case "natsjs":
      return new NatsStream({ address: where, logger: options.logger });
    default:
      throw new Error(`unknown events backend ${JSON.stringify(plugin)} (MICRO_EVENTS): available are memory, nats`);
  }
}

function defaultEventsName(): string {
  if (process.env.MICRO_EVENTS) return process.env.MICRO_EVENTS;
  return process.env.MICRO_BROKER && parsePluginName(process.env.MICRO_BROKER).plugin === "nats" ? "nats" : "memory";
}

function defaultEventsAddress(): string | undefined {
  if (process.env.MICRO_EVENTS || !process.env.MICRO_BROKER) return undefined;
  const broker = parsePluginName(process.env.MICRO_BROKER, process.env.MICRO_BROKER_ADDRESS || undefined);
  return broker.plugin === "nats" ? broker.address : undefined;
}

export const STORES = ["file", "memory", "postgres", "redis", "nats"] as const;

export interface ResolveStoreOptions {
  /** Default database (`MICRO_STORE_DATABASE`, else `micro`). */
  database?: string;
  /** Default table (`MICRO_STORE_TABLE`, else `micro`). */
  table?: string;
}

/**
 * The store named by `name` (default: `MICRO_STORE`, else `file`) at `address` (default:
 * `MICRO_STORE_ADDRESS`: the file store's directory, or the server's URL or `host:port`). A URL
 * names its store by scheme: `postgres://…`, `postgresql://…`, `redis://…`, `nats://…`. Each call makes a new
 * store (a memory store is not shared).
 */
export function resolveStore(
  name = process.env.MICRO_STORE || "file",
  address = process.env.MICRO_STORE_ADDRESS || undefined,
  options: ResolveStoreOptions = {},
): Store {
  const { plugin, address: where } = parsePluginName(name, address);
  const scope = {
    database: options.database || process.env.MICRO_STORE_DATABASE || undefined,
    table: options.table || process.env.MICRO_STORE_TABLE || undefined,
  };
  // A URL given as the name is the driver's address as it is (credentials, database, options).
  const url = name.includes("://") && !address ? name : where;
  switch (plugin) {
    case "file":
      return new FileStore({ dir: where, ...scope });
    case "memory":
      return new MemoryStore(scope);
    case "postgres":
    case "postgresql":
    case "cockroach":
      return new PostgresStore({ address: url, ...scope });
    case "redis":
    case "rediss":
      return new RedisStore({ address: url, ...scope });
    case "nats":
      return new NatsStore({ servers: where, ...scope });
    default:
      throw new Error(`unknown store ${JSON.stringify(plugin)} (MICRO_STORE): available are ${STORES.join(", ")}`);
  }
}

export interface CreateStoreOptions extends ResolveStoreOptions {
  /** `file` (default), `memory`, `postgres`, `redis`, `nats`, or a URL naming one (`MICRO_STORE`). */
  name?: string;
  /** The directory (file) or server address (`MICRO_STORE_ADDRESS`). */
  address?: string;
}

/** A store chosen by options, else by `MICRO_STORE*`; by default the file store in the user's data directory. */
export function createStore(options: CreateStoreOptions = {}): Store {
  return resolveStore(options.name || undefined, options.address || undefined, options);
}

/**
 * The Sync (locks and leader election) named by `name` (default: `MICRO_SYNC`, else `memory`) at
 * `address` (default: `MICRO_SYNC_ADDRESS`, else the URL's host, else the backend's default).
 */
export function resolveSync(name = process.env.MICRO_SYNC || "memory", address = process.env.MICRO_SYNC_ADDRESS || undefined): Sync {
  const { plugin, address: where } = parsePluginName(name, address);
  switch (plugin) {
    case "memory":
      // Every MemorySync of a process shares one lock table.
      return new MemorySync();
    case "etcd":
      return new EtcdSync({ hosts: where });
    case "redis":
      return new RedisSync({ address: where });
    case "nats":
      return new NatsSync({ servers: where });
    default:
      throw new Error(`unknown sync ${JSON.stringify(plugin)} (MICRO_SYNC): available are memory, etcd, redis, nats`);
  }
}

export const AUTHS = ["noop", "jwt"] as const;

export interface ResolveAuthOptions {
  /** Where the jwt auth keeps accounts and rules (default: the store `MICRO_STORE*` names, closed with the auth). */
  store?: Store;
  /** Read before the env for `auth_token_expiry` (`MICRO_AUTH_TOKEN_EXPIRY`). */
  config?: Config;
}

/**
 * The auth named by `name` (default: `MICRO_AUTH`, else `noop`). The jwt auth takes its keys from
 * `MICRO_AUTH_PUBLIC_KEY` / `MICRO_AUTH_PRIVATE_KEY` (base64 PEM, as Go Micro), its issuer from
 * `MICRO_AUTH_NAMESPACE` (default `go.micro`) and the lifetime of the tokens it issues from
 * `MICRO_AUTH_TOKEN_EXPIRY` (default 1 minute).
 */
export function resolveAuth(name = process.env.MICRO_AUTH || "noop", options: ResolveAuthOptions = {}): Auth {
  const issuer = process.env.MICRO_AUTH_NAMESPACE || undefined;
  switch (name.toLowerCase()) {
    case "noop":
      return new NoopAuth(issuer);
    case "jwt":
      return new JwtAuth({
        publicKey: process.env.MICRO_AUTH_PUBLIC_KEY || undefined,
        privateKey: process.env.MICRO_AUTH_PRIVATE_KEY || undefined,
        issuer,
        store: options.store ?? resolveStore(),
        ownsStore: options.store === undefined,
        tokenExpiry: new Settings(options.config).duration("auth_token_expiry"),
      });
    default:
      throw new Error(`unknown auth ${JSON.stringify(name)} (MICRO_AUTH): available are ${AUTHS.join(", ")}`);
  }
}

export const CONFIG_SOURCES = ["etcd", "nats"] as const;

/**
 * The shared config source named by `name` (default `MICRO_CONFIG`): `etcd` (keys under
 * `MICRO_CONFIG_PREFIX`, default `/micro/config/`, or the one document at `MICRO_CONFIG_KEY`) or
 * `nats` (a KV bucket, `MICRO_CONFIG_BUCKET` default `default`, key `MICRO_CONFIG_KEY` default
 * `micro_config`), at `address` (default `MICRO_CONFIG_ADDRESS`). Undefined when none is named.
 */
export function resolveConfigSource(
  name = process.env.MICRO_CONFIG || undefined,
  address = process.env.MICRO_CONFIG_ADDRESS || undefined,
  options: { optional?: boolean } = {},
): WritableSource | undefined {
  if (!name) return undefined;
  const { plugin, address: where } = parsePluginName(name, address);
  const key = process.env.MICRO_CONFIG_KEY || undefined;
  switch (plugin) {
    case "etcd":
      return new EtcdSource({ hosts: where, prefix: process.env.MICRO_CONFIG_PREFIX || undefined, key, optional: options.optional });
    case "nats":
      return new NatsSource({ servers: where, bucket: process.env.MICRO_CONFIG_BUCKET || undefined, key, optional: options.optional });
    default:
      throw new Error(`unknown config source ${JSON.stringify(plugin)} (MICRO_CONFIG): available are ${CONFIG_SOURCES.join(", ")}`);
  }
}
