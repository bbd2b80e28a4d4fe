/**
 * Moleculer broker options shared by the bench server and client, so both ends agree. JSON
 * serializer and no request timeout are Moleculer's defaults; logging is off, as for every peer.
 *
 * TCP: UDP discovery is off and the client is given the server's address instead (Moleculer's
 * documented static `urls` list), because UDP discovery multicasts off the loopback. Discovery
 * then runs over TCP gossip every `gossipPeriod` (2 s, the default), which start-up times show.
 */
import type { BrokerOptions } from "moleculer";

export const SERVER_NODE = "bench-server";

export function brokerOptions(nodeID: string, transporter: string, address: string, isServer: boolean): BrokerOptions {
  const base: BrokerOptions = { nodeID, logger: false, serializer: "JSON", requestTimeout: 0 };
  if (transporter === "nats") return { ...base, transporter: { type: "NATS", options: { url: `nats://${address}` } } };
  if (transporter !== "tcp") throw new Error(`unknown Moleculer transporter ${transporter}`);
  const port = Number(address.split(":").pop());
  const tcp = isServer ? { udpDiscovery: false, port } : { udpDiscovery: false, urls: `127.0.0.1:${port}/${SERVER_NODE}` };
  return { ...base, transporter: { type: "TCP", options: tcp } };
}
