import { Redis } from "ioredis";
import { RedisBroker } from "../../src/broker/redis.js";
import { brokerConformance } from "../conformance/broker.js";
import { PrivateServer, requireServer, SERVERS } from "../setup/servers.js";

brokerConformance("redis", {
  create: () => new RedisBroker({ address: "127.0.0.1:6379", redeliveryDelay: 50 }),
  ordered: true,
  redelivers: true,
  preflight: () => requireServer("Redis", SERVERS.redis.port, SERVERS.redis.start),
  restart: async () => {
    const server = await PrivateServer.create("redis");
    return {
      create: () => new RedisBroker({ address: server.address }),
      stop: () => server.stop(),
      start: () => server.start(),
      destroy: () => server.destroy(),
    };
  },
  cleanup: async (topics) => {
    const redis = new Redis("redis://127.0.0.1:6379");
    await redis.del(...topics.map((t) => `micro:topic:${t}`));
    await redis.quit();
  },
});
