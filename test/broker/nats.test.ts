import { NatsBroker } from "../../src/broker/nats.js";
import { brokerConformance } from "../conformance/broker.js";
import { PrivateServer, requireServer, SERVERS } from "./servers.js";

brokerConformance("nats", {
  create: () => new NatsBroker({ address: "127.0.0.1:4222" }),
  ordered: true,
  redelivers: false,
  preflight: () => requireServer("NATS", SERVERS.nats.port, SERVERS.nats.start),
  restart: async () => {
    const server = await PrivateServer.create("nats");
    return { create: () => new NatsBroker({ address: server.address }), stop: () => server.stop(), start: () => server.start(), destroy: () => server.destroy() };
  },
});
