/**
 * Maps a broker name (Go Micro's `MICRO_BROKER`) or URL (`nats://127.0.0.1:4222`) to a broker.
 * The networked plugins load their drivers only when used, so this module costs nothing for
 * programs that stay on the defaults.
 */
import { parsePluginName, resolveRegistry } from "../service/resolve.js";
import type { Logger } from "../logger/logger.js";
import type { Registry } from "../registry/registry.js";
import type { Broker } from "./broker.js";
import { HttpBroker } from "./http.js";
import { MemoryBroker } from "./memory.js";
import { MqttBroker } from "./mqtt.js";
import { NatsBroker } from "./nats.js";
import { RabbitMQBroker } from "./rabbitmq.js";
import { RedisBroker } from "./redis.js";

export const BROKERS = ["http", "memory", "nats", "redis", "rabbitmq", "mqtt"] as const;

export interface ResolveBrokerOptions {
  /** The registry the http broker registers subscribers in (default: the one MICRO_REGISTRY names). */
  registry?: Registry;
  logger?: Logger;
}

let sharedMemoryBroker: MemoryBroker | undefined;

/**
 * The broker named by `name` (default: `MICRO_BROKER`, else `http`) at `address` (default:
 * `MICRO_BROKER_ADDRESS`, else the URL's host, else the plugin's default).
 */
export function resolveBroker(name = process.env.MICRO_BROKER || "http", address = process.env.MICRO_BROKER_ADDRESS || undefined, options: ResolveBrokerOptions = {}): Broker {
  const { plugin, address: where } = parsePluginName(name, address);
  const logger = options.logger;
  switch (plugin) {
    case "http":
      return new HttpBroker({ registry: options.registry ?? resolveRegistry(), address: where, logger });
    case "memory":
      // One per process, so that services and clients in one process reach each other.
      return (sharedMemoryBroker ??= new MemoryBroker({ logger }));
    case "nats":
      return new NatsBroker({ address: where, logger });
    case "redis":
    case "rediss":
      return new RedisBroker({ address: name.includes("://") && !address ? name : where, logger });
    case "rabbitmq":
    case "amqp":
    case "amqps":
      return new RabbitMQBroker({ address: name.includes("://") && !address && plugin !== "rabbitmq" ? name : where, logger });
    case "mqtt":
    case "mqtts":
      return new MqttBroker({ address: where, logger });
    default:
      throw new Error(`unknown broker ${JSON.stringify(plugin)} (MICRO_BROKER): available are ${BROKERS.join(", ")}`);
  }
}
