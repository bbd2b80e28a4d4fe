/**
 * Maps an events backend name (`MICRO_EVENTS`) to a Stream. When MICRO_EVENTS is unset and the
 * broker is NATS (`MICRO_BROKER=nats`), events use the same NATS server, so one setting moves a
 * system to NATS.
 */
import type { Logger } from "../logger/logger.js";
import { parsePluginName } from "../service/resolve.js";
import type { Stream } from "./events.js";
import { MemoryStream } from "./memory.js";
import { NatsStream } from "./nats.js";

let sharedMemoryStream: MemoryStream | undefined;

export function resolveEvents(name = defaultName(), address = process.env.MICRO_EVENTS_ADDRESS || defaultAddress(), options: { logger?: Logger } = {}): Stream {
  const { plugin, address: where } = parsePluginName(name, address);
  switch (plugin) {
    case "memory":
      return (sharedMemoryStream ??= new MemoryStream(options));
    case "nats":
    case "natsjs":
      return new NatsStream({ address: where, logger: options.logger });
    default:
      throw new Error(`unknown events backend ${JSON.stringify(plugin)} (MICRO_EVENTS): available are memory, nats`);
  }
}

function defaultName(): string {
  if (process.env.MICRO_EVENTS) return process.env.MICRO_EVENTS;
  return process.env.MICRO_BROKER && parsePluginName(process.env.MICRO_BROKER).plugin === "nats" ? "nats" : "memory";
}

function defaultAddress(): string | undefined {
  if (process.env.MICRO_EVENTS || !process.env.MICRO_BROKER) return undefined;
  const broker = parsePluginName(process.env.MICRO_BROKER, process.env.MICRO_BROKER_ADDRESS || undefined);
  return broker.plugin === "nats" ? broker.address : undefined;
}
