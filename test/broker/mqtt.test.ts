import { MqttBroker } from "../../src/broker/mqtt.js";
import { brokerConformance } from "../conformance/broker.js";
import { PrivateServer, requireServer, SERVERS } from "../setup/servers.js";

brokerConformance("mqtt", {
  create: () => new MqttBroker({ address: "127.0.0.1:1883" }),
  ordered: true,
  redelivers: false,
  // Mosquitto's default max_queued_messages: past 1,000 queued for one subscriber it drops.
  maxLag: 500,
  preflight: () => requireServer("Mosquitto", SERVERS.mqtt.port, SERVERS.mqtt.start),
  restart: async () => {
    const server = await PrivateServer.create("mqtt");
    return {
      create: () => new MqttBroker({ address: server.address }),
      stop: () => server.stop(),
      start: () => server.start(),
      destroy: () => server.destroy(),
    };
  },
});
