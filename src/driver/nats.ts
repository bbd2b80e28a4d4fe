/**
 * The one way NATS plugins (registry, transport, broker, events) open a NATS connection: one option
 * shape (`servers`, `connection`, `tls`, `connectOptions`, `logger`), one default server, one
 * reconnect policy, and one place that logs outages.
 *
 * Every plugin's connection reconnects forever once it was made: an outage of NATS must end with
 * the plugin working again, not with a process to restart. A connection passed in `connection` is
 * shared, not owned: the plugin uses it and never closes it.
 */
import type { ConnectionOptions, NatsConnection, TlsOptions } from "@nats-io/transport-node";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import { loadDriver } from "./driver.js";

/** The NATS server plugins use when none is given. */
export const DEFAULT_NATS_SERVER = "nats://127.0.0.1:4222";

/** Appended to a failed connection's error message. */
export const NATS_START_HINT = "is nats-server running? start one with: nats-server -a 127.0.0.1 -p 4222";

/** TLS for a NATS connection, as the driver takes it: PEM contents (`ca`, `cert`, `key`) or file paths (`caFile`, `certFile`, `keyFile`). */
export type NatsTlsOptions = TlsOptions;

/** What every NATS plugin accepts, besides its own settings. */
export interface NatsConnectionOptions {
  /** NATS servers, `host:port` or `nats://host:port`; a string may list several, comma-separated. Default `nats://127.0.0.1:4222`. */
  servers?: string | string[];
  /** An open connection to use instead of connecting (e.g. one shared by several plugins); it is never closed by the plugin. */
  connection?: NatsConnection;
  /** TLS: a CA to trust a server whose certificate no public CA signed, and a client certificate and key when the server asks for one. */
  tls?: NatsTlsOptions;
  /** Anything else the driver's connect() takes (credentials, tokens, …); applied last. */
  connectOptions?: Partial<ConnectionOptions>;
  /** Where connection losses and recoveries are logged (default: the process logger). */
  logger?: Logger;
}

/** What a plugin says about its own connection. */
export interface NatsConnectionProfile {
  /** The plugin, in messages: "nats registry". */
  plugin: string;
  /** The connection's name in the server's connection list: "ts-micro registry". */
  name: string;
  /** Milliseconds the first connection attempt may take (the driver's default: 20 s). */
  timeout?: number;
  /** Told when the connection drops (it reconnects by itself) and when it is back. */
  onDisconnect?: (server: string) => void;
  onReconnect?: (server: string) => void;
}

/** An open connection and how to let go of it. */
export interface NatsHandle {
  readonly nc: NatsConnection;
  /** Whether the plugin opened it (and so closes it) rather than was given it. */
  readonly owned: boolean;
  /** Stops following the connection; drains it (then closes it) when owned, leaves a shared one open. */
  release(): Promise<void>;
}

/** Reconnect forever, a quarter second apart; notice a silent network partition within about three ping intervals. */
const RECONNECT_POLICY: Partial<ConnectionOptions> = {
  maxReconnectAttempts: -1,
  reconnectTimeWait: 250,
  reconnectJitter: 250,
  pingInterval: 5_000,
  maxPingOut: 2,
};

/** Milliseconds release() lets a drain take before it closes the connection. */
const DRAIN_TIMEOUT = 2_000;

/**
 * `a:4222,nats://b:4222` → `["nats://a:4222", "nats://b:4222"]`, as Go Micro's setAddrs; nothing
 * given → the default server.
 */
export function parseServers(servers: string | string[] | undefined): string[] {
  const list = (Array.isArray(servers) ? servers : (servers ?? "").split(",")).map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) return [DEFAULT_NATS_SERVER];
  return list.map((s) => (/^[a-z]+:\/\//i.test(s) ? s : `nats://${s}`));
}

/**
 * The connection in `options.connection`, or a new one to `options.servers`. Disconnects are
 * logged as warnings and reconnects as info, with the server, and passed to the profile's hooks.
 * A first connection that cannot be made fails with the servers tried and how to start one.
 */
export async function openNatsConnection(options: NatsConnectionOptions, profile: NatsConnectionProfile): Promise<NatsHandle> {
  const servers = parseServers(options.servers);
  const owned = !options.connection;
  const nc = options.connection ?? (await connect(servers, options, profile));
  const log = options.logger ?? defaultLogger();
  const status = nc.status();
  void (async () => {
    for await (const change of status) {
      if (change.type === "disconnect") {
        log.warn(`${profile.plugin}: disconnected, reconnecting`, { server: change.server });
        profile.onDisconnect?.(change.server);
      } else if (change.type === "reconnect") {
        log.info(`${profile.plugin}: reconnected`, { server: change.server });
        profile.onReconnect?.(change.server);
      }
    }
  })();
  let released = false;
  return {
    nc,
    owned,
    release: async () => {
      if (released) return;
      released = true;
      // The driver's status iterator can be stopped, though its type only says AsyncIterable.
      (status as { stop?: () => void }).stop?.();
      if (!owned || nc.isClosed()) return;
      // Drain delivers what is in flight; bounded, since a drain waits for a server that may be gone.
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_TIMEOUT)));
      await Promise.race([nc.drain().catch(() => {}), bound]);
      clearTimeout(timer);
      if (!nc.isClosed()) await nc.close().catch(() => {});
    },
  };
}

async function connect(servers: string[], options: NatsConnectionOptions, profile: NatsConnectionProfile): Promise<NatsConnection> {
  const driver = await loadDriver<typeof import("@nats-io/transport-node")>("@nats-io/transport-node", profile.plugin);
  try {
    return await driver.connect({
      servers,
      name: profile.name,
      ...(profile.timeout !== undefined ? { timeout: profile.timeout } : {}),
      ...RECONNECT_POLICY,
      ...(options.tls ? { tls: options.tls } : {}),
      ...options.connectOptions,
    });
  } catch (err) {
    throw new Error(`${profile.plugin}: cannot connect to ${servers.join(", ")}: ${(err as Error).message} (${NATS_START_HINT})`);
  }
}
