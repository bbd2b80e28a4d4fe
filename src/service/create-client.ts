import { Client, type CallWrapper } from "../client/client.js";
import type { Codecs } from "../codec/index.js";
import type { Logger } from "../logger/logger.js";
import { CacheRegistry } from "../registry/cache.js";
import type { Registry } from "../registry/registry.js";
import { Selector, strategyByName, type Strategy } from "../selector/selector.js";
import type { Transport } from "../transport/transport.js";
import { envDuration, envInt, resolveForeignTransport, resolveRegistry, resolveTransport } from "./resolve.js";
import type { Broker } from "../broker/broker.js";
import { resolveBroker } from "../broker/resolve.js";

export interface CreateClientOptions {
  registry?: Registry;
  transport?: Transport;
  codecs?: Codecs;
  contentType?: string;
  /** Default per-call timeout in ms (default 30 s, `MICRO_CLIENT_REQUEST_TIMEOUT`). */
  timeout?: number;
  /** Default extra attempts on other nodes when safe (default 3, `MICRO_CLIENT_RETRIES`). */
  retries?: number;
  strategy?: Strategy;
  wrappers?: CallWrapper[];
  logger?: Logger;
  /** Where publish() sends messages (default: `MICRO_BROKER`, else `http`; a broker resolved here is disconnected by close()). */
  broker?: Broker;
}

/**
 * A client for programs that call services without being one (scripts, the CLI, tests). It
 * uses the same defaults and env vars as a service.
 */
export function createClient(options: CreateClientOptions = {}): Client {
  const strategy = options.strategy ?? (process.env.MICRO_SELECTOR ? strategyByName(process.env.MICRO_SELECTOR) : undefined);
  const inner = options.registry ?? resolveRegistry();
  // A registry resolved here is closed with the client (its connections would keep the process
  // alive), except the per-process memory registry, which services in the process share.
  const registry = new CacheRegistry(inner, { closeInner: !options.registry && inner.name !== "memory" });
  const broker = options.broker ?? resolveBroker(undefined, undefined, { registry, logger: options.logger });
  const ownsBroker = !options.broker && broker.name !== "memory";
  return new Client({
    registry,
    transport: options.transport ?? resolveTransport(),
    foreignTransport: resolveForeignTransport(),
    selector: new Selector({ strategy }),
    codecs: options.codecs,
    contentType: options.contentType,
    timeout: options.timeout ?? envDuration("MICRO_CLIENT_REQUEST_TIMEOUT"),
    retries: options.retries ?? envInt("MICRO_CLIENT_RETRIES"),
    wrappers: options.wrappers,
    logger: options.logger,
    broker,
    onClose: async () => {
      // The broker first: the http broker deregisters through the registry.
      if (ownsBroker) await broker.disconnect().catch(() => {});
      await registry.close();
    },
  });
}
