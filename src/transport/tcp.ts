/**
 * What the TCP transports (mux, http) share: address parsing and a listener that tracks its
 * connections so it can tell them to wind down on close() and drop them on destroy().
 */
import net from "node:net";
import type { Logger } from "../logger/logger.js";
import type { Listener } from "./transport.js";

/** One accepted connection, as a listener needs to see it. */
export interface ServedConnection {
  /** Finish what is in flight, take nothing new. */
  goAway(): void;
  destroy(): void;
}

/** How many connections a listener takes, and who hears of the ones it refuses. */
export interface ConnectionCap {
  maxConnections: number;
  /** A connection over the cap was accepted and closed at once. */
  refused(remote: string): void;
}

/**
 * Listens on `address` (`host:port`; an empty host means every interface, port 0 any port) and
 * hands each socket to `serve`. With a `cap`, connections beyond it are closed as they arrive:
 * running out of file descriptors would otherwise fail every call, including outgoing ones.
 */
export async function listenTcp(
  address: string,
  serve: (socket: net.Socket) => ServedConnection | undefined,
  log: Logger,
  label: string,
  cap?: ConnectionCap,
): Promise<Listener> {
  const { host, port } = splitHostPort(address);
  const connections = new Set<ServedConnection>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    const conn = serve(socket);
    if (!conn) return;
    connections.add(conn);
    socket.once("close", () => connections.delete(conn));
  });
  if (cap) {
    server.maxConnections = cap.maxConnections;
    server.on("drop", (peer?: { remoteAddress?: string; remotePort?: number }) => cap.refused(joinHostPort(peer?.remoteAddress ?? "?", peer?.remotePort ?? 0)));
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: host || undefined, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log.error(`${label} listener error`, { err: err.message }));
  const bound = server.address() as net.AddressInfo;
  return {
    address: joinHostPort(bound.address, bound.port),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const conn of connections) conn.goAway();
      }),
    destroy: () => {
      for (const conn of connections) conn.destroy();
      server.close();
    },
  };
}

export function splitHostPort(address: string): { host: string; port: number } {
  const idx = address.lastIndexOf(":");
  if (idx === -1) return { host: address, port: 0 };
  let host = address.slice(0, idx);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const port = Number(address.slice(idx + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`invalid address ${JSON.stringify(address)}: bad port`);
  return { host, port };
}

export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
