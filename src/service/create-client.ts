import { type SignatureVerifier, verifierFromKeys } from "../auth/signing.js";
import type { Broker } from "../broker/broker.js";
import { type CallWrapper, Client, type ClientOptions, type ServiceLookup, type StreamWrapper } from "../client/client.js";
import { fixedToken } from "../client/identity.js";
import { type BackoffOptions, exponentialBackoff, type RetryBudgetOptions } from "../client/retry.js";
import { VerifiedLookup } from "../client/verified.js";
import type { Codecs } from "../codec/index.js";
import type { Logger } from "../logger/logger.js";
import { CacheRegistry } from "../registry/cache.js";
import type { Registry } from "../registry/registry.js";
import { Selector, type Strategy, strategyByName } from "../selector/selector.js";
import type { Transport } from "../transport/transport.js";
import { type ResolveBrokerOptions, resolveBroker, resolveForeignTransport, resolveGrpcTransport, resolveRegistry, resolveTransport } from "./resolve.js";
import { Settings } from "./settings.js";

export interface CreateClientOptions extends ClientSettings {
  registry?: Registry;
  transport?: Transport;
  /** The transport for gRPC nodes and `grpc://` addresses (default: gRPC, over TLS with MICRO_TRANSPORT_SECURE). */
  grpcTransport?: Transport;
  codecs?: Codecs;
  contentType?: string;
  wrappers?: CallWrapper[];
  streamWrappers?: StreamWrapper[];
  logger?: Logger;
  /** Where publish() sends messages (default: `MICRO_BROKER`, else `http`; a broker resolved here is disconnected by close()). */
  broker?: Broker;
  /** An access token sent as `Authorization: Bearer …` on every call, stream and publish (default: `MICRO_AUTH_TOKEN`). */
  token?: string;
  /** The auth public key (base64 PEM) that checks registry signatures with `verifyRegistry` (default: `MICRO_AUTH_PUBLIC_KEY`). */
  publicKey?: string;
}

/**
 * A registry for a client: behind a cache, and closed with it when resolved here from the env (its
 * connections would keep the process alive) — unless it is the per-process memory registry, which
 * every service in the process shares.
 */
export function cachedRegistry(given?: Registry, logger?: Logger, settings = new Settings()): CacheRegistry {
  const inner = given ?? resolveRegistry(settings.fromConfig("registry"), settings.fromConfig("registry_address"), { logger });
  return new CacheRegistry(inner, { closeInner: !given && inner.name !== "memory", logger });
}

/**
 * A broker, and whether it is ours to disconnect (resolved here, and not the shared memory one).
 * `trust`: the http broker signs its subscriber nodes and, with a verifier, delivers only to signed ones.
 */
export function ownedBroker(
  given: Broker | undefined,
  registry: Registry,
  logger?: Logger,
  settings = new Settings(),
  trust: Pick<ResolveBrokerOptions, "signer" | "verifier"> = {},
): { broker: Broker; owned: boolean } {
  const broker = given ?? resolveBroker(settings.fromConfig("broker"), settings.fromConfig("broker_address"), { registry, logger, ...trust });
  return { broker, owned: !given && broker.name !== "memory" };
}

/** Client settings that come from config or Go Micro's env vars where options leave them out. */
export function clientSettings(
  options: ClientSettings,
  settings = new Settings(),
): Pick<ClientOptions, "foreignTransport" | "grpcTransport" | "selector" | "timeout" | "retries" | "attemptTimeout" | "backoff" | "retryBudget" | "cache"> {
  const selector = settings.text("selector");
  const strategy = options.strategy ?? (selector ? strategyByName(selector) : undefined);
  return {
    foreignTransport: resolveForeignTransport(settings.transportEnv()),
    grpcTransport: resolveGrpcTransport(settings.transportEnv()),
    selector: new Selector({ strategy }),
    timeout: options.timeout ?? settings.duration("client_request_timeout"),
    retries: options.retries ?? settings.whole("client_retries"),
    attemptTimeout: options.attemptTimeout ?? settings.duration("client_attempt_timeout"),
    backoff: typeof options.backoff === "object" ? exponentialBackoff(options.backoff) : options.backoff,
    retryBudget: options.retryBudget ?? budgetSetting(settings.ratio("client_retry_budget")),
    cache: options.cache,
  };
}

/** `MICRO_CLIENT_RETRY_BUDGET`: the share of calls that may be retried; 0 turns retries after a reply off, unset keeps the default. */
function budgetSetting(ratio: number | undefined): RetryBudgetOptions | undefined {
  return ratio === undefined ? undefined : { ratio, minPerSecond: ratio === 0 ? 0 : undefined };
}

/** A client's defaults, as a service's `client` option and createClient take them. */
export interface ClientSettings {
  /** Per-call timeout in ms (default 30 s, `MICRO_CLIENT_REQUEST_TIMEOUT`). */
  timeout?: number;
  /** Extra attempts on other nodes when safe (default 3, `MICRO_CLIENT_RETRIES`). */
  retries?: number;
  /** First attempt's share of an idempotent call, in ms (default 800, `MICRO_CLIENT_ATTEMPT_TIMEOUT`). */
  attemptTimeout?: number;
  strategy?: Strategy;
  /**
   * Waits between retries: exponential with jitter (default base 100 ms, max 2 s, jitter 0.5;
   * the first retry, on another node, waits nothing), or a function of the attempt number.
   */
  backoff?: BackoffOptions | ((attempt: number) => number);
  /** Cap on retries as a share of calls (default 20 % + 10/s, `MICRO_CLIENT_RETRY_BUDGET=0.1`; false: none). */
  retryBudget?: RetryBudgetOptions | false;
  /** Response cache TTLs by endpoint (see ClientOptions.cache). */
  cache?: ClientOptions["cache"];
  /**
   * Call only nodes whose registry record is signed by the auth key pair; unsigned nodes (Go
   * Micro's) and forged ones are ignored (default `MICRO_REGISTRY_VERIFY`; see docs/auth.md).
   */
  verifyRegistry?: boolean;
}

/**
 * The registry as a client should read it: with MICRO_REGISTRY_VERIFY (or `verify`), only nodes
 * `verifier` finds validly signed; `verifier` undefined means this node has no public key, which
 * is a configuration error rather than a reason to trust every record.
 */
export function verifiedLookup(
  registry: Registry,
  verify: boolean | undefined,
  verifier: SignatureVerifier | undefined,
  logger?: Logger,
): ServiceLookup & Pick<Registry, "name"> {
  if (!verify) return registry;
  if (!verifier) throw new Error("MICRO_REGISTRY_VERIFY needs the auth public key: set MICRO_AUTH=jwt and MICRO_AUTH_PUBLIC_KEY");
  return new VerifiedLookup(registry, verifier, logger);
}

/**
 * What checks signed registry records when `verify` (default MICRO_REGISTRY_VERIFY) is on: the auth
 * public key (`publicKey`, default MICRO_AUTH_PUBLIC_KEY, or the private key's public half);
 * undefined when verification is off. For the clients and brokers of programs that are not
 * services (createClient, `micro publish`, the gateway's dashboard).
 */
export function registryVerifier(
  verify: boolean | undefined = new Settings().flag("registry_verify"),
  publicKey: string | undefined = process.env.MICRO_AUTH_PUBLIC_KEY || undefined,
): SignatureVerifier | undefined {
  return verify ? verifierFromKeys({ publicKey, privateKey: process.env.MICRO_AUTH_PRIVATE_KEY || undefined }) : undefined;
}

/**
 * A client for programs that call services without being one (scripts, the CLI, tests). It
 * uses the same defaults and env vars as a service.
 */
export function createClient(options: CreateClientOptions = {}): Client {
  // Settings errors first, before connections are opened that nothing would close.
  const verify = options.verifyRegistry ?? new Settings().flag("registry_verify");
  const verifier = registryVerifier(verify, options.publicKey);
  const registry = cachedRegistry(options.registry, options.logger);
  const { broker, owned } = ownedBroker(options.broker, registry, options.logger, undefined, { verifier });
  const token = options.token ?? (process.env.MICRO_AUTH_TOKEN || undefined);
  return new Client({
    identity: token ? { source: fixedToken(token) } : undefined,
    ...clientSettings(options),
    registry: verifiedLookup(registry, verify, verifier, options.logger),
    transport: options.transport ?? resolveTransport(),
    ...(options.grpcTransport ? { grpcTransport: options.grpcTransport } : {}),
    codecs: options.codecs,
    contentType: options.contentType,
    wrappers: options.wrappers,
    streamWrappers: options.streamWrappers,
    logger: options.logger,
    broker,
    onClose: async () => {
      // The broker first: the http broker deregisters through the registry.
      if (owned) await broker.disconnect().catch(() => {});
      await registry.close();
    },
  });
}
