/**
 * ts-micro: Go Micro for TypeScript. Start with `createService({ name })`, `service.handle(new
 * Handler())` and `service.run()`; call other services with `service.client` or `createClient()`.
 */

export {
  type Access,
  type Account,
  AUTHORIZATION,
  type Auth,
  type CheckedToken,
  InvalidTokenError,
  type Resource,
  type Rule,
  type Rules,
  SCOPE_ACCOUNT,
  SCOPE_PUBLIC,
  type Token,
} from "./auth/auth.js";
export type { Broker, BrokerEvent, BrokerHandler, BrokerMessage, SubscribeOptions, Subscriber } from "./broker/broker.js";
export { ResponseCache } from "./client/cache.js";
export {
  type CallFunc,
  type CallOptions,
  type CallWrapper,
  Client,
  type ClientRequest,
  type HandlerClient,
  type HandlerMap,
  type ServiceClient,
  type StreamFunc,
  type StreamWrapper,
} from "./client/client.js";
export type { PublishOptions } from "./client/publish.js";
export { type BackoffOptions, exponentialBackoff, RetryBudget, type RetryBudgetOptions } from "./client/retry.js";
export type { Codec } from "./codec/codec.js";
export {
  type Config,
  type ConfigChange,
  ConfigError,
  type ConfigObject,
  ConfigSchemaError,
  ConfigTypeError,
  type Source as ConfigSource,
} from "./config/config.js";
export { env } from "./config/env.js";
export { file } from "./config/file.js";
export { flags } from "./config/flags.js";
export { type LoadConfigOptions, loadConfig } from "./config/load.js";
export { memory } from "./config/memory.js";
export type { DebugRequest, HealthResponse, LogRecord, LogRequest } from "./debug/handler.js";
export { type CheckFunc, type CheckOptions, type CheckResult, HealthChecks, type HealthReport, type HealthStatus } from "./debug/health.js";
export type { StatsResponse } from "./debug/stats.js";
export { ErrorId, isMicroError, LocalError, MicroError, type MicroErrorJSON, RetryLaterError } from "./errors/errors.js";
export { createLogger, type LogFields, type LogFormat, type Logger, type LogLevel, logger, setLogger } from "./logger/logger.js";
export { type LogRing, recordingLogger } from "./logger/ring.js";
export type { Caller, Context, PeerCertificate } from "./metadata/context.js";
export { MicroHeader, type MicroHeaderName } from "./metadata/headers.js";
export { Metadata, type MetadataInit } from "./metadata/metadata.js";
export { type CacheLookups, DEFAULT_BUCKETS, Metrics, type MetricsOptions } from "./observe/metrics.js";
export type { ObserveOptions } from "./observe/observe.js";
export { TraceHeader } from "./observe/trace-context.js";
export { Tracing, type TracingOptions } from "./observe/tracing.js";
export type { Endpoint, Node, Registry, ServiceRecord, Value, WatchEvent, Watcher } from "./registry/registry.js";
export { type Filter, filterEndpoint, filterMetadata, filterVersion, leastRequests, random, roundRobin, Selector, type Strategy } from "./selector/selector.js";
export { type EndpointDescription, type HandleOptions, type HandlerFunc, type HandlerWrapper, Server, type ServerRequest } from "./server/server.js";
export type { MessageContext, Publication, SubscriberFunc, SubscriberWrapper, SubscriptionHandler, SubscriptionOptions } from "./server/subscriber.js";
export { type CreateClientOptions, createClient } from "./service/create-client.js";
export {
  type CreateStoreOptions,
  createStore,
  resolveAuth,
  resolveBroker,
  resolveConfigSource,
  resolveEvents,
  resolveRegistry,
  resolveStore,
  resolveSync,
  resolveTransport,
} from "./service/resolve.js";
export { createService, type GrpcServiceOptions, type Hook, Service, type ServiceOptions } from "./service/service.js";
export { type JsonTable, jsonTable } from "./store/json-table.js";
export {
  type DeleteOptions as StoreDeleteOptions,
  type ListOptions as StoreListOptions,
  type ReadOptions as StoreReadOptions,
  type Store,
  StoreNotFoundError,
  type StoreRecord,
  type WritableRecord,
  type WriteOptions as StoreWriteOptions,
} from "./store/store.js";
export { type LeaderOptions, type Leadership, type Lock, type LockOptions, LockTimeoutError, type Sync } from "./sync/sync.js";
export type { Message, Transport } from "./transport/transport.js";
export { type BreakerOptions, CircuitBreaker, nodeFailure } from "./wrappers/breaker.js";
export { ConcurrencyLimit, type ConcurrencyLimitOptions } from "./wrappers/load-shedding.js";
export { type RateLimit, type RateLimitOptions, rateLimit, TokenBucket } from "./wrappers/rate-limit.js";
