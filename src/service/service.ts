/**
 * A Service ties a server, a client, a registry and a transport together and runs the lifecycle:
 * start → listen → register → heartbeat; stop → deregister → stop accepting → drain → close.
 * A registry that cannot be reached at start is retried with backoff until it can (the service
 * serves calls by address meanwhile); stop() ends the wait.
 * Every option has a default that works on one host with nothing installed, and Go Micro's env
 * vars (`MICRO_SERVER_NAME`, `MICRO_REGISTRY`, `MICRO_REGISTER_TTL`, …) fill in what code leaves out.
 */
import os from "node:os";
import type { Auth } from "../auth/auth.js";
import { ServiceIdentity } from "../auth/identity.js";
import type { Broker } from "../broker/broker.js";
import { type CallWrapper, Client, type StreamWrapper } from "../client/client.js";
import { Codecs, defaultCodecs } from "../codec/index.js";
import { ProtoSchema, protobufCodec, protoJsonCodec } from "../codec/proto.js";
import type { Config } from "../config/config.js";
import { DEBUG_HANDLER, Debug } from "../debug/handler.js";
import { HealthChecks } from "../debug/health.js";
import { checkProbeAddress, ProbeServer, type ProbeSources } from "../debug/probe.js";
import { ProcessMonitor } from "../debug/stats.js";
import { newId } from "../driver/crypto.js";
import { MissingDriverError } from "../driver/driver.js";
import type { MicroError } from "../errors/errors.js";
import type { Stream } from "../events/events.js";
import { deferredGrpcTransport } from "../grpc/deferred.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import { LogRing, recordingLogger } from "../logger/ring.js";
import type { Metrics } from "../observe/metrics.js";
import { Observability, type ObserveOptions } from "../observe/observe.js";
import type { CacheRegistry } from "../registry/cache.js";
import { DEFAULT_REGISTER_INTERVAL, DEFAULT_REGISTER_TTL, InvalidRecordError, type Registry, type ServiceRecord } from "../registry/registry.js";
import { signNodes } from "../registry/signature.js";
import { authorizeCalls, authorizeMessages } from "../server/authorize.js";
import { type HandleOptions, type HandlerWrapper, Server } from "../server/server.js";
import { type SubscriberWrapper, type SubscriptionHandler, type SubscriptionOptions, Subscriptions } from "../server/subscriber.js";
import type { Store } from "../store/store.js";
import type { Sync } from "../sync/sync.js";
import { joinHostPort, splitHostPort } from "../transport/tcp.js";
import type { TlsOptions } from "../transport/tls.js";
import type { Listener, Transport } from "../transport/transport.js";
import { type BreakerOptions, CircuitBreaker } from "../wrappers/breaker.js";
import { ConcurrencyLimit } from "../wrappers/load-shedding.js";
import { type RateLimit, rateLimit } from "../wrappers/rate-limit.js";
import { type ClientSettings, cachedRegistry, clientSettings, ownedBroker, verifiedLookup } from "./create-client.js";
import { resolveAuth, resolveStore, resolveSync, resolveTransport, transportTlsFromEnv } from "./resolve.js";
import { defaultServiceConfig, Settings } from "./settings.js";

export type Hook = () => void | Promise<void>;

export interface ServiceOptions extends ObserveOptions {
  /** The service name (`MICRO_SERVER_NAME`). */
  name?: string;
  /** Default `latest` (`MICRO_SERVER_VERSION`). */
  version?: string;
  /** Node metadata published in the registry (`MICRO_SERVER_METADATA=a=1,b=2`). */
  metadata?: Record<string, string>;
  /**
   * Listen address, `host:port` (default `:0`, any port; `MICRO_SERVER_ADDRESS`). Without a host
   * the node listens only on the host it advertises; `0.0.0.0:port` or `[::]:port` listens on
   * every interface.
   */
  address?: string;
  /** Address to publish instead of the listen address (`MICRO_SERVER_ADVERTISE`). */
  advertise?: string;
  /** Registration TTL in ms (default 90 s; `MICRO_REGISTER_TTL` in seconds). */
  registerTtl?: number;
  /** Re-registration interval in ms (default 30 s; `MICRO_REGISTER_INTERVAL` in seconds). */
  registerInterval?: number;
  /**
   * While the registry cannot be reached at start: ms before the first retry (default 250),
   * doubling up to `maxDelay` (default 5 s). Every failed attempt is logged with its error.
   */
  registerRetry?: { initialDelay?: number; maxDelay?: number };
  /** Longest wait for calls in flight on stop, in ms (default 10 s; `MICRO_SERVER_GRACE`). */
  gracePeriod?: number;
  registry?: Registry;
  /** The transport of the service's client, and of its server unless `server` is `grpc`. */
  transport?: Transport;
  /**
   * The RPC server (`MICRO_SERVER`): `mucp` (default; on `transport`) or `grpc`, which serves
   * the same handlers over gRPC with Go Micro's mapping and registers `server=grpc,
   * transport=grpc, protocol=grpc` (see docs/grpc.md).
   */
  server?: "mucp" | "grpc";
  /** gRPC server settings, used when `server` is `grpc`. */
  grpc?: GrpcServiceOptions;
  /**
   * Pub/sub for subscribe() and client.publish() (default: `MICRO_BROKER`, else `http`, which
   * needs no server). A broker passed here is connected on start but left connected on stop.
   */
  broker?: Broker;
  /**
   * Data storage for `service.store` (default: `MICRO_STORE`, else the file store), created on
   * first use. A store passed here is left open on stop; one the service created is closed.
   */
  store?: Store;
  /**
   * Locks and leader election for `service.sync` (default: `MICRO_SYNC`, else `memory`). One
   * passed here is left open on stop; the default one is created on first use and closed on stop.
   */
  sync?: Sync;
  codecs?: Codecs;
  /**
   * Authentication and access rules (default: `MICRO_AUTH`, else `noop`; see docs/auth.md). With
   * anything but noop, every call and message delivery is checked against the rules: no token
   * 401, a bad or expired one 401, denied (or no rule covers it) 403. An auth passed here is left
   * open on stop.
   */
  auth?: Auth;
  /**
   * This service's own account (default: `MICRO_AUTH_ID` and `MICRO_AUTH_SECRET`): exchanged for
   * a token at start, renewed before it expires, and sent on the service's calls and publishes.
   * `forward: true` sends the token of the call being served instead, when there is one.
   * `tokenExpiry` is each token's lifetime in ms (default: the auth's).
   */
  identity?: { id: string; secret: string; forward?: boolean; tokenExpiry?: number };
  /**
   * The service's config (`service.config`), e.g. `await loadConfig(file("config.yaml"), env({ prefix: "APP" }), flags())`.
   * Framework settings not given in code are read from it under Go Micro's flag names (`registry`,
   * `registry_address`, `broker`, `server_address`, `register_ttl`, …) before the `MICRO_*` env vars.
   * Default: the command-line flags, read once. A config passed here is left open on stop.
   */
  config?: Config;
  /**
   * Address of an HTTP port for probes, `host:port` (`MICRO_HEALTH_ADDRESS`; default none):
   * `/health`, `/health/live` and `/health/ready` in Go Micro's JSON, 503 when not healthy or not
   * ready. See docs/health.md.
   */
  healthAddress?: string;
  /** How many recent log records `Debug.Log` (`micro logs`) can return (default 1024). */
  logRecords?: number;
  /** Handler wrappers (server middleware), outermost first. */
  wrapHandler?: HandlerWrapper[];
  /** Subscriber wrappers (middleware around every subscribe() handler), outermost first. */
  wrapSubscriber?: SubscriberWrapper[];
  /** Call wrappers for this service's client, outermost first. */
  wrapCall?: CallWrapper[];
  /** Stream wrappers for this service's client (around each stream it opens), outermost first. */
  wrapStream?: StreamWrapper[];
  /**
   * Client defaults: per-call timeout in ms, retries, per-attempt timeout of idempotent calls,
   * selection strategy, backoff, retry budget, response cache; and a circuit breaker per node and
   * endpoint (off by default; `true` or options to turn it on, or `MICRO_CLIENT_BREAKER=true`).
   * See docs/resilience.md.
   */
  client?: ClientSettings & { breaker?: BreakerOptions | boolean };
  /**
   * Load shedding and rate limits for the calls this service serves (see docs/resilience.md):
   * at most `concurrency` calls at once (`MICRO_SERVER_CONCURRENCY`; default unlimited), `queue`
   * more waiting (`MICRO_SERVER_QUEUE`; default 0), the rest refused at once with 503 and a
   * `Retry-After` of `retryAfter` ms (default 1 s); `rates` by endpoint (`Greeter.Hello`, or `*`
   * for each other endpoint) refuse calls over the rate with 429
   * (`MICRO_SERVER_RATE_LIMITS=Greeter.Hello=100:200,*=1000`: rate and burst).
   */
  limits?: { concurrency?: number; queue?: number; retryAfter?: number; rates?: Record<string, RateLimit> };
  logger?: Logger;
  beforeStart?: Hook[];
  afterStart?: Hook[];
  beforeStop?: Hook[];
  afterStop?: Hook[];
}

export interface GrpcServiceOptions {
  /**
   * `.proto` files describing the handlers (`service Greeter` ↔ handler `Greeter`): protobuf
   * messages for `application/grpc`, streaming kinds, and reflection. Default `MICRO_GRPC_PROTO`
   * (comma-separated). Without one, callers use `application/grpc+json`.
   */
  proto?: string | string[];
  /** A schema already loaded, instead of `proto`. */
  schema?: ProtoSchema;
  /** Largest message in bytes (default 4 MiB, Go Micro's). */
  maxMessageSize?: number;
  /** Serve gRPC server reflection (default true). */
  reflection?: boolean;
  /**
   * TLS for the gRPC server (h2 over TLS; mTLS with `clientAuth: "require"`). Default: from
   * MICRO_TRANSPORT_SECURE and MICRO_TLS_*, as the other transports (docs/auth.md).
   */
  tls?: TlsOptions;
}

export class Service {
  readonly name: string;
  readonly version: string;
  /** This node's id in the registry: `<name>-<uuid>`. */
  readonly id: string;
  readonly server: Server;
  readonly client: Client;
  readonly registry: CacheRegistry;
  readonly transport: Transport;
  /** The transport the server listens on: `transport`, or the gRPC transport with `server: "grpc"`. */
  readonly serverTransport: Transport;
  readonly broker: Broker;
  readonly auth: Auth;
  readonly log: Logger;
  /** The service's own token, when it has an identity. */
  readonly identity: ServiceIdentity | undefined;
  private readonly ownsAuth: boolean;
  /** The service's config (see `ServiceOptions.config`). */
  readonly config: Config;
  /** Health checks behind `Debug.Health` and the probe port: `service.health.check("db", () => pool.query("select 1"))`. */
  readonly health = new HealthChecks();
  private readonly monitor = new ProcessMonitor();
  /** The concurrency limit (load shedding), when configured. */
  readonly limiter: ConcurrencyLimit | undefined;
  /** The client's circuit breaker, when turned on. */
  readonly breaker: CircuitBreaker | undefined;
  /** The recent log records behind `Debug.Log`. */
  private readonly logRing: LogRing;
  /** Metrics and tracing, as the options and `MICRO_METRICS` / `MICRO_TRACING` turn them on. */
  private readonly observed: Observability;
  private probe: ProbeServer | undefined;
  private readonly subscriptions: Subscriptions;
  private readonly ownsBroker: boolean;
  /** Framework settings: config, then env. */
  private readonly settings: Settings;
  /** The store this service created (and so closes on stop), once `store` was used. */
  private ownStore: Store | undefined;
  /** The Sync of `service.sync`, once used; `ownsSync` if this service created it. */
  private syncInstance: Sync | undefined;
  private ownsSync = false;
  private readonly options: Required<Pick<ServiceOptions, "registerTtl" | "registerInterval" | "gracePeriod" | "metadata" | "address">> & ServiceOptions;
  private listener: Listener | undefined;
  private record: ServiceRecord | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private registered = false;
  private state: "new" | "starting" | "running" | "stopping" | "stopped" = "new";
  /** Aborted by a stop() that comes while start() is still waiting for the registry. */
  private readonly startAborted = new AbortController();
  /** start() in progress, for a stop() during it to wait on. */
  private starting: Promise<void> | undefined;
  /** stop() in progress, for a second stop() to wait on. */
  private stopping: Promise<void> | undefined;

  constructor(options: ServiceOptions = {}) {
    this.config = options.config ?? defaultServiceConfig();
    const settings = new Settings(this.config);
    const name = options.name ?? settings.text("server_name");
    if (!name) throw new TypeError("createService: a service needs a name (option `name`, config server_name or MICRO_SERVER_NAME)");
    this.name = name;
    this.version = options.version ?? settings.text("server_version") ?? "latest";
    this.id = `${name}-${settings.text("server_id") ?? newId()}`;
    this.options = {
      ...options,
      registerTtl: options.registerTtl ?? settings.duration("register_ttl") ?? DEFAULT_REGISTER_TTL,
      registerInterval: options.registerInterval ?? settings.duration("register_interval") ?? DEFAULT_REGISTER_INTERVAL,
      gracePeriod: options.gracePeriod ?? settings.duration("server_grace") ?? 10_000,
      metadata: { ...settings.metadata("server_metadata"), ...options.metadata },
      address: options.address ?? settings.text("server_address") ?? ":0",
      advertise: options.advertise ?? settings.text("server_advertise"),
      healthAddress: options.healthAddress ?? settings.text("health_address"),
    };
    this.settings = settings;
    if (this.options.healthAddress) checkProbeAddress(this.options.healthAddress);
    if (this.options.registerInterval >= this.options.registerTtl) {
      throw new RangeError(`registerInterval (${this.options.registerInterval} ms) must be shorter than registerTtl (${this.options.registerTtl} ms)`);
    }
    this.logRing = new LogRing(options.logRecords);
    this.log = recordingLogger(options.logger ?? defaultLogger(), this.logRing).child({ service: name });
    this.observed = new Observability(name, options);
    const serverKind = options.server ?? settings.text("server") ?? "mucp";
    if (serverKind !== "mucp" && serverKind !== "grpc")
      throw new TypeError(`unknown server ${JSON.stringify(serverKind)} (MICRO_SERVER): available are mucp, grpc`);
    const schema = serverKind === "grpc" ? grpcSchema(options.grpc) : undefined;
    const codecs = options.codecs ?? (schema ? schemaCodecs(schema) : defaultCodecs);
    this.registry = cachedRegistry(options.registry, this.log, settings);
    this.transport = options.transport ?? resolveTransport(settings.fromConfig("transport"), settings.fromConfig("transport_address"), settings.transportEnv());
    this.ownsAuth = options.auth === undefined;
    this.auth = options.auth ?? resolveAuth(settings.fromConfig("auth"), { store: this.options.store, config: this.config });
    // Shedding comes first, so that an overloaded node spends nothing on a call it refuses (not
    // even a token check); then the auth checks: nothing else runs for a caller they refuse; then
    // rate limits, so that only callers allowed to call an endpoint spend its calls.
    const checked = this.auth.name !== "noop";
    this.limiter = this.createLimiter(options.limits, settings);
    // Metrics and spans outermost: a call refused by auth or a rate limit is counted and traced
    // too. One shed by the limit is refused earlier still (the server's admit, before decoding):
    // counted, not traced, as a span per shed call would add work where there is too much.
    const wrapHandler = [
      ...this.observed.handlerWrappers(),
      ...(this.limiter ? [this.limiter.wrapper] : []),
      ...(checked ? [authorizeCalls({ auth: this.auth, service: name })] : []),
      ...this.rateLimits(options.limits?.rates ?? settings.rates("server_rate_limits")),
      ...(options.wrapHandler ?? []),
    ];
    const wrapSubscriber = checked
      ? [authorizeMessages({ auth: this.auth, service: name, logger: this.log }), ...(options.wrapSubscriber ?? [])]
      : options.wrapSubscriber;
    this.identity = this.createIdentity(options.identity);
    // No wrappers at all keeps the server's unwrapped fast path.
    this.server = new Server({
      name,
      codecs,
      wrappers: wrapHandler.length > 0 ? wrapHandler : undefined,
      logger: this.log,
      admit: this.limiter && this.admitter(this.limiter),
    });
    this.serverTransport =
      serverKind === "grpc"
        ? deferredGrpcTransport({
            schema,
            maxMessageSize: options.grpc?.maxMessageSize,
            reflection: options.grpc?.reflection,
            tls: options.grpc?.tls ?? transportTlsFromEnv(settings.transportEnv()),
            shape: (endpoint) => this.server.shape(endpoint),
            handlers: () => this.server.handlers(),
            health: () => this.health.run().then((report) => report.status),
            logger: this.log,
          })
        : this.transport;
    // As Go Micro's services: Debug.Health and Debug.Stats on every node, not published as endpoints.
    this.server.handle(new Debug(this.health, this.monitor, this.server, this.logRing), { name: DEBUG_HANDLER, internal: true });
    const verify = options.client?.verifyRegistry ?? settings.flag("registry_verify");
    const { broker, owned } = ownedBroker(options.broker, this.registry, this.log, settings, {
      signer: this.auth.signer,
      verifier: verify ? this.auth.verifier : undefined,
    });
    this.broker = this.observed.broker(broker);
    this.observed.metrics?.watchCache(this.registry);
    this.ownsBroker = owned;
    this.subscriptions = new Subscriptions({ service: name, broker: this.broker, codecs, wrappers: wrapSubscriber, logger: this.log });
    const client = clientSettings(options.client ?? {}, settings);
    const breaker = options.client?.breaker ?? settings.flag("client_breaker");
    this.breaker = breaker && client.selector ? new CircuitBreaker(client.selector, breaker === true ? {} : breaker) : undefined;
    if (verify && !this.auth.signer) {
      this.log.warn(
        "MICRO_REGISTRY_VERIFY is on but this node cannot sign its registry record (no MICRO_AUTH_PRIVATE_KEY): verifying clients will not call it",
      );
    }
    this.client = new Client({
      ...client,
      registry: verifiedLookup(this.registry, verify, this.auth.verifier, this.log),
      transport: this.transport,
      codecs,
      // The breaker outermost: it judges each attempt by what the caller finally gets.
      wrappers: [...(this.breaker ? [this.breaker.wrapper] : []), ...this.observed.callWrappers(), ...(options.wrapCall ?? [])],
      streamWrappers: [...this.observed.streamWrappers(), ...(options.wrapStream ?? [])],
      from: name,
      logger: this.log,
      broker: this.broker,
      identity: this.identity && { source: this.identity, forward: options.identity?.forward },
    });
  }

  /** The server's early check: calls the limiter sheds, refused before decoding and counted by metrics as 503s. */
  private admitter(limiter: ConcurrencyLimit): (endpoint: string) => MicroError | undefined {
    const metrics = this.observed.metrics;
    return (endpoint) => {
      const refused = limiter.admit(endpoint);
      if (refused) metrics?.refused(endpoint, refused.code);
      return refused;
    };
  }

  /** The concurrency limit from options, else `MICRO_SERVER_CONCURRENCY` and `MICRO_SERVER_QUEUE`; none when neither sets it. */
  private createLimiter(limits: ServiceOptions["limits"], settings: Settings): ConcurrencyLimit | undefined {
    const concurrency = limits?.concurrency ?? settings.whole("server_concurrency");
    if (!concurrency) return undefined;
    return new ConcurrencyLimit({ concurrency, queue: limits?.queue ?? settings.whole("server_queue"), retryAfter: limits?.retryAfter, service: this.name });
  }

  /** The rate-limit wrapper, when limits are set (`limits.rates` or `MICRO_SERVER_RATE_LIMITS`). */
  private rateLimits(rates: Record<string, RateLimit> | undefined): HandlerWrapper[] {
    return rates ? [rateLimit(rates, { service: this.name })] : [];
  }

  /** The service's identity from options or `MICRO_AUTH_ID`/`MICRO_AUTH_SECRET`; none without credentials or with noop auth. */
  private createIdentity(given: ServiceOptions["identity"]): ServiceIdentity | undefined {
    const id = given?.id ?? process.env.MICRO_AUTH_ID;
    const secret = given?.secret ?? process.env.MICRO_AUTH_SECRET;
    if (!id || !secret) return undefined;
    if (this.auth.name === "noop") {
      this.log.warn("MICRO_AUTH_ID is set but auth is noop: the service sends no token (set MICRO_AUTH=jwt)", { id });
      return undefined;
    }
    return new ServiceIdentity({ auth: this.auth, id, secret, tokenExpiry: given?.tokenExpiry, logger: this.log });
  }

  /**
   * Calls `handler` with each message published to `topic`, its body decoded by Content-Type.
   * With `queue`, each message goes to one subscriber of the queue group. Call before start().
   */
  subscribe<T = unknown>(topic: string, handler: SubscriptionHandler<T>, options?: SubscriptionOptions): this {
    if (this.state !== "new") throw new Error("subscribe() must be called before the service starts");
    this.subscriptions.add(topic, handler, options);
    return this;
  }

  /** Serves every public method of `instance` as `<Class>.<Method>`. Call before start(). */
  handle(instance: object, options?: HandleOptions): this {
    if (this.state !== "new") throw new Error("handle() must be called before the service starts");
    this.server.handle(instance, options);
    return this;
  }

  /** The service's data store: `options.store`, else the one `MICRO_STORE*` names (file by default), opened on first use. */
  get store(): Store {
    if (this.options.store) return this.options.store;
    const settings = this.settings;
    this.ownStore ??= resolveStore(settings.fromConfig("store"), settings.fromConfig("store_address"), {
      database: settings.fromConfig("store_database"),
      table: settings.fromConfig("store_table"),
    });
    return this.ownStore;
  }

  /** Distributed locks and leader election (`MICRO_SYNC`, `MICRO_SYNC_ADDRESS`), created on first use. */
  get sync(): Sync {
    if (!this.syncInstance) {
      this.ownsSync = this.options.sync === undefined;
      this.syncInstance = this.options.sync ?? resolveSync(this.settings.fromConfig("sync"), this.settings.fromConfig("sync_address"));
    }
    return this.syncInstance;
  }

  /**
   * The service's Prometheus metrics when they are on (`metrics` option, `MICRO_METRICS=1`):
   * `metrics.handler` serves them from any HTTP server, `metrics.registry` takes metrics of your own.
   */
  get metrics(): Metrics | undefined {
    return this.observed.metrics;
  }

  /**
   * `stream` (a durable event stream) with this service's metrics and tracing: publishes and
   * consumed events get spans and counts, as the service's broker does. `stream` itself when both are off.
   */
  observeEvents(stream: Stream): Stream {
    return this.observed.events(stream);
  }

  /** The probe port's bound address (`host:port`), when `healthAddress` is set and the service started. */
  get healthAddress(): string | undefined {
    return this.probe?.address;
  }

  /** The address other processes reach this node at (after start). */
  get address(): string | undefined {
    return this.record?.nodes[0]?.address;
  }

  /**
   * Listens, registers, subscribes. While the registry cannot be reached, registration is retried
   * with backoff (see `registerRetry`); a stop() meanwhile ends start() without error, stopped.
   */
  async start(): Promise<void> {
    if (this.state !== "new") throw new Error(`service ${this.name} is ${this.state}; a service starts once`);
    this.state = "starting";
    this.starting = this.startSteps();
    try {
      await this.starting;
    } catch (err) {
      // A probe port left open would keep the process alive and answer for a service that is not there.
      await this.probe?.close();
      this.monitor.stop();
      throw err;
    }
  }

  private async startSteps(): Promise<void> {
    await runHooks(this.options.beforeStart);
    // First: liveness answers (and readiness says 503) while the rest starts and the registry is awaited.
    if (this.options.healthAddress) this.probe = await ProbeServer.listen(this.options.healthAddress, this.probeSources());
    this.monitor.start();
    await this.identity?.start();
    await this.broker.connect();
    this.listener = await this.serverTransport.listen(this.listenAddress(), { handler: this.server.serve, streamHandler: this.server.serveStream });
    this.record = this.buildRecord(this.advertisedAddress(this.listener.address));
    if (!(await this.registerUntilDone())) return; // stop() was called: it finishes the shutdown
    this.heartbeat = setInterval(() => void this.renew(), this.options.registerInterval).unref();
    // As Go Micro: subscribe once registered, so the service is discoverable before it consumes.
    await this.subscriptions.start();
    this.state = "running";
    this.log.info("service started", {
      id: this.id,
      address: this.address,
      transport: this.serverTransport.name,
      registry: this.registry.name,
      endpoints: this.server.endpoints().map((e) => e.name),
    });
    await runHooks(this.options.afterStart);
  }

  /** Deregisters, stops taking calls, waits for calls in flight (up to the grace period), closes. */
  async stop(): Promise<void> {
    if (this.state === "starting") {
      // Only a registration retry can be interrupted; other start steps finish first.
      this.startAborted.abort();
      await this.starting?.catch(() => {});
      if (this.state !== "starting") return this.stop();
      this.state = "running"; // stopped while waiting for the registry: shut down what started
    }
    if (this.state === "stopping") return this.stopping;
    if (this.state !== "running") return;
    this.state = "stopping";
    this.stopping = this.stopSteps();
    return this.stopping;
  }

  private async stopSteps(): Promise<void> {
    await runHooks(this.options.beforeStop);
    // Followers of the log (`micro logs -f`) would hold the drain below for the whole grace period.
    this.logRing.close();
    clearInterval(this.heartbeat);
    if (this.record && this.registered) {
      await this.registry.deregister(this.record).catch((err: Error) => this.log.warn("deregister failed", { err: err.message }));
    }
    await this.subscriptions.stop();
    await this.listener?.close();
    const drained = await this.server.drain(this.options.gracePeriod);
    if (!drained) this.log.warn("grace period over with calls still in flight", { pending: this.server.pending, gracePeriod: this.options.gracePeriod });
    if (!(await this.subscriptions.drain(this.options.gracePeriod))) this.log.warn("grace period over with subscriber handlers still running");
    this.listener?.destroy();
    this.client.close();
    if (this.ownsBroker) await this.broker.disconnect().catch((err: Error) => this.log.warn("broker disconnect failed", { err: err.message }));
    await this.registry.close();
    this.identity?.stop();
    if (this.ownsAuth) await this.auth.close().catch((err: Error) => this.log.warn("auth close failed", { err: err.message }));
    await this.ownStore?.close().catch((err: Error) => this.log.warn("store close failed", { err: err.message }));
    if (this.ownsSync) await this.syncInstance?.close().catch((err: Error) => this.log.warn("sync close failed", { err: err.message }));
    await this.probe?.close();
    this.monitor.stop();
    this.state = "stopped";
    this.log.info("service stopped", { id: this.id });
    await runHooks(this.options.afterStop);
  }

  /** start(), then wait for SIGINT or SIGTERM and stop(). A signal during start stops it too; a second signal exits at once. */
  async run(): Promise<void> {
    let onSignal: (signal: NodeJS.Signals) => void = () => {};
    const signalled = new Promise<void>((resolve) => {
      onSignal = (signal) => {
        this.log.info("signal received, stopping", { signal });
        process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
        process.once("SIGINT", () => process.exit(130)).once("SIGTERM", () => process.exit(143));
        resolve();
        void this.stop();
      };
      process.on("SIGINT", onSignal).on("SIGTERM", onSignal);
    });
    try {
      await this.start();
    } catch (err) {
      process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
      throw err;
    }
    await signalled;
    await this.stop();
  }

  /**
   * Registers, retrying with backoff while the registry cannot be reached. Resolves false if
   * stop() was called before it succeeded.
   */
  private async registerUntilDone(): Promise<boolean> {
    const signal = this.startAborted.signal;
    let delay = this.options.registerRetry?.initialDelay ?? 250;
    const maxDelay = this.options.registerRetry?.maxDelay ?? 5_000;
    const since = Date.now();
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await this.registry.register(this.record!, { ttl: this.options.registerTtl });
        this.registered = true;
        if (attempt > 1) this.log.info("registered after retrying", { registry: this.registry.name, attempts: attempt, waited: Date.now() - since });
        return true;
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof InvalidRecordError || err instanceof MissingDriverError) {
          // Waiting will not install a driver or shorten a name: fail now, as with any bad input.
          this.log.error("registration failed", { registry: this.registry.name, err: err.message });
          throw err;
        }
        this.log.warn("registration failed, retrying", { registry: this.registry.name, attempt, retryIn: delay, err: (err as Error).message });
        await abortableDelay(delay, signal);
        delay = Math.min(delay * 2, maxDelay);
      }
    }
    this.log.info("stopped before registration succeeded", { registry: this.registry.name });
    return false;
  }

  private probeSources(): ProbeSources {
    return {
      health: () => this.health.run(),
      ready: () => this.state === "running" && this.registered,
      metrics: this.observed.metrics && (() => this.observed.metrics!.text()),
      info: () => ({
        ...figures(this.monitor, this.server),
        service: this.name,
        version: this.version,
        id: this.id,
        node_version: process.version,
        node_os: process.platform,
        node_arch: process.arch,
      }),
    };
  }

  /** A heartbeat: a failure is logged, and the next heartbeat tries again. */
  private async renew(): Promise<void> {
    try {
      await this.registry.register(this.record!, { ttl: this.options.registerTtl });
    } catch (err) {
      this.log.warn("re-registration failed; retrying at the next heartbeat", { registry: this.registry.name, err: (err as Error).message });
    }
  }

  private buildRecord(address: string): ServiceRecord {
    const record = this.unsignedRecord(address);
    if (this.auth.signer) signNodes(record, this.auth.signer);
    return record;
  }

  private unsignedRecord(address: string): ServiceRecord {
    return {
      name: this.name,
      version: this.version,
      metadata: null,
      endpoints: [...this.server.endpoints(), ...this.subscriptions.endpoints()],
      nodes: [
        {
          id: this.id,
          address,
          metadata: {
            ...this.options.metadata,
            transport: this.serverTransport.name,
            ...(this.serverTransport.secure ? { secure: "true" } : {}),
            broker: this.broker.name,
            server: this.serverTransport.protocol ?? "mucp",
            registry: this.registry.name,
            protocol: this.serverTransport.protocol ?? "mucp",
          },
        },
      ],
    };
  }

  /**
   * The configured listen address, with an empty host replaced by the host peers are told to use:
   * a port is not opened on every interface unless asked for with 0.0.0.0 or ::. An advertised
   * host that is not this machine's (behind NAT) leaves the host empty.
   */
  private listenAddress(): string {
    const address = this.options.address;
    if (!address.includes(":")) return address;
    const { host, port } = splitHostPort(address);
    if (host) return address;
    if (!this.options.advertise) return joinHostPort(this.reachableHost(), port);
    const advertised = splitHostPort(this.options.advertise).host;
    const local = Object.values(os.networkInterfaces()).some((addresses) => addresses?.some((a) => a.address === advertised));
    return local ? joinHostPort(advertised, port) : address;
  }

  /** A host-local registry only has peers on this host; otherwise a private address. */
  private reachableHost(): string {
    const hostLocal = this.registry.name === "local" || this.registry.name === "memory";
    return hostLocal ? "127.0.0.1" : privateAddress();
  }

  /**
   * A wildcard listen host is replaced by an address peers can reach. An address that is not
   * `host:port` (the NATS transport's subject) is the only way to reach the node: published as is.
   */
  private advertisedAddress(bound: string): string {
    if (!bound.includes(":")) return bound;
    if (this.options.advertise) return this.options.advertise;
    const { host, port } = splitHostPort(bound);
    if (host && host !== "0.0.0.0" && host !== "::") return bound;
    return joinHostPort(this.reachableHost(), port);
  }
}

/** The `.proto` schema of a gRPC server: given, or loaded from `proto` / `MICRO_GRPC_PROTO`; none without either. */
function grpcSchema(options: GrpcServiceOptions = {}): ProtoSchema | undefined {
  if (options.schema) return options.schema;
  const files = [options.proto ?? process.env.MICRO_GRPC_PROTO?.split(",") ?? []].flat().filter((f) => f.trim() !== "");
  return files.length ? new ProtoSchema({ files }) : undefined;
}

/** The default codecs with protobuf and JSON reading the schema's message types. */
function schemaCodecs(schema: ProtoSchema): Codecs {
  return new Codecs().register(protobufCodec(schema), "application/proto").register(protoJsonCodec(schema));
}

/** Node's figures as text, for the probe's `info` (Go Micro's is a string map). */
function figures(monitor: ProcessMonitor, server: Server): Record<string, string> {
  const { heapUsed, heapTotal, eventLoopDelay } = monitor.figures();
  return {
    heap_used: String(heapUsed),
    heap_total: String(heapTotal),
    event_loop_delay_ns: String(eventLoopDelay),
    in_flight: String(server.pending),
  };
}

function privateAddress(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === "IPv4" && !address.internal) return address.address;
  }
  return "127.0.0.1";
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

async function runHooks(hooks: Hook[] | undefined): Promise<void> {
  for (const hook of hooks ?? []) await hook();
}

/** Creates a service; see ServiceOptions for what can be set and which env vars apply. */
export function createService(options: ServiceOptions = {}): Service {
  return new Service(options);
}
