import amqp from "amqplib";
import { RabbitMQBroker } from "../../src/broker/rabbitmq.js";
import { brokerConformance } from "../conformance/broker.js";
import { rabbitmqctl, requireServer, SERVERS } from "../setup/servers.js";

brokerConformance("rabbitmq", {
  create: () => new RabbitMQBroker({ address: "127.0.0.1:5672", redeliveryDelay: 50 }),
  ordered: true,
  redelivers: true,
  preflight: () => requireServer("RabbitMQ", SERVERS.rabbitmq.port, SERVERS.rabbitmq.start),
  // Only these tests use RabbitMQ, so they restart the shared node's app.
  restart: async () => ({
    create: () => new RabbitMQBroker({ address: "127.0.0.1:5672" }),
    stop: () => rabbitmqctl("stop_app"),
    start: () => rabbitmqctl("start_app"),
    destroy: async () => {},
  }),
  cleanup: async (topics) => {
    const connection = await amqp.connect("amqp://guest:guest@127.0.0.1:5672");
    const channel = await connection.createChannel();
    for (const t of topics) for (const q of ["a", "b", "workers"]) await channel.deleteQueue(`micro.${t}.${q}`);
    await connection.close();
  },
});
