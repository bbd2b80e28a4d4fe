/**
 * What every NATS plugin (registry, transport, broker, events) agrees on: where NATS is by default
 * and how a server list is written.
 */

/** The NATS server plugins use when none is given. */
export const DEFAULT_NATS_SERVER = "nats://127.0.0.1:4222";

/** Appended to a failed connection's error message. */
export const NATS_START_HINT = "is nats-server running? start one with: nats-server -a 127.0.0.1 -p 4222";

/**
 * `a:4222,nats://b:4222` → `["nats://a:4222", "nats://b:4222"]`, as Go Micro's setAddrs; nothing
 * given → the default server.
 */
export function parseServers(servers: string | string[] | undefined): string[] {
  const list = (Array.isArray(servers) ? servers : (servers ?? "").split(",")).map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) return [DEFAULT_NATS_SERVER];
  return list.map((s) => (/^[a-z]+:\/\//i.test(s) ? s : `nats://${s}`));
}
