/**
 * The registry the scale case of `npm run bench:registry` runs against, as its child processes
 * build it from the environment: SCALE_REGISTRY (etcd | nats), SCALE_ADDRESS, and for NATS
 * SCALE_TOPIC, a subject prefix of the run's own (the NATS server is shared: other programs on it
 * must not hear 2,000 benchmark nodes on Go Micro's `micro.nats.*` subjects). Also counts what a
 * process reads from its sockets, which is a watcher's traffic.
 */
import diagnostics from "node:diagnostics_channel";
import type net from "node:net";
import { createLogger } from "../src/index.js";
import { EtcdRegistry } from "../src/registry/etcd.js";
import { NatsRegistry } from "../src/registry/nats.js";
import type { Registry, ServiceRecord, Value } from "../src/registry/registry.js";

export const quietLogger = createLogger({ level: "silent" });

export function scaleRegistry(): Registry {
  const kind = process.env.SCALE_REGISTRY;
  const address = process.env.SCALE_ADDRESS ?? "";
  if (kind === "etcd") return new EtcdRegistry({ hosts: address, logger: quietLogger });
  if (kind === "nats") {
    const topic = process.env.SCALE_TOPIC ?? "micro.nats";
    return new NatsRegistry({ servers: address, queryTopic: `${topic}.query`, watchTopic: `${topic}.watch`, connectTimeout: 15_000, logger: quietLogger });
  }
  throw new Error(`SCALE_REGISTRY must be etcd or nats, not ${JSON.stringify(kind)}`);
}

const sockets = new Set<net.Socket>();
let closedBytes = 0;

/** Starts counting the bytes read by every outgoing connection this process opens from now on. */
export function countSocketBytes(): void {
  diagnostics.subscribe("net.client.socket", (message) => {
    const { socket } = message as { socket: net.Socket };
    sockets.add(socket);
    socket.once("close", () => {
      closedBytes += socket.bytesRead;
      sockets.delete(socket);
    });
  });
}

/** Bytes read so far by the connections counted. */
export function bytesRead(): number {
  let total = closedBytes;
  for (const socket of sockets) total += socket.bytesRead;
  return total;
}

/**
 * A one-node record as a real service registers it: node id `<service>-<id>`, Go Micro's node
 * metadata, and three endpoints with small request and response types.
 */
export function scaleRecord(service: string, id: string, port: number): ServiceRecord {
  const value = (name: string): Value => ({
    name,
    type: name,
    values: [
      { name: "id", type: "string", values: null },
      { name: "count", type: "int64", values: null },
    ],
  });
  return {
    name: service,
    version: "1.0.0",
    metadata: null,
    endpoints: ["Get", "List", "Update"].map((method) => ({
      name: `Handler.${method}`,
      request: value(`${method}Request`),
      response: value(`${method}Response`),
      metadata: null,
    })),
    nodes: [
      {
        id: `${service}-${id}`,
        address: `127.0.0.1:${port}`,
        metadata: { transport: "mux", broker: "http", server: "mucp", registry: process.env.SCALE_REGISTRY ?? "", protocol: "mucp", mux: "1" },
      },
    ],
  };
}
