import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { NatsStream, streamName } from "../../src/events/nats.js";
import { eventsConformance } from "../conformance/events.js";
import { quiet } from "../setup/logger.js";
import { requireServer, SERVERS } from "../setup/servers.js";

eventsConformance("nats", {
  create: () => new NatsStream({ address: "127.0.0.1:4222", logger: quiet }),
  preflight: () => requireServer("NATS with JetStream", SERVERS.nats.port, SERVERS.nats.start),
  cleanup: async (topics) => {
    const nc = await connect({ servers: "127.0.0.1:4222" });
    const jsm = await jetstreamManager(nc);
    for (const t of topics) await jsm.streams.delete(streamName(t)).catch(() => {});
    await nc.close();
  },
});
