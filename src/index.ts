/**
 * ts-micro: Go Micro for TypeScript. Start with `createService({ name })`, `service.handle(new
 * Handler())` and `service.run()`; call other services with `service.client` or `createClient()`.
 */
export { createService, Service, type ServiceOptions, type Hook } from "./service/service.js";
export { createClient, type CreateClientOptions } from "./service/create-client.js";
export {
  Client,
  type CallOptions,
  type CallFunc,
  type CallWrapper,
  type ClientRequest,
  type HandlerClient,
  type ServiceClient,
} from "./client/client.js";
export { Server, type HandlerFunc, type HandlerWrapper, type HandleOptions, type EndpointDescription, type ServerRequest } from "./server/server.js";
export type { Context, Caller } from "./metadata/context.js";
export { ErrorId, LocalError, MicroError, isMicroError, type MicroErrorJSON } from "./errors/errors.js";
export { MicroHeader, type MicroHeaderName } from "./metadata/headers.js";
export { Metadata, type MetadataInit } from "./metadata/metadata.js";
export { createLogger, logger, setLogger, type Logger, type LogLevel, type LogFields } from "./logger/logger.js";
export type { Registry, ServiceRecord, Node, Endpoint, Value, WatchEvent, Watcher } from "./registry/registry.js";
export type { Transport, Message } from "./transport/transport.js";
export type { Codec } from "./codec/codec.js";
export type { Broker, BrokerEvent, BrokerHandler, BrokerMessage, SubscribeOptions, Subscriber } from "./broker/broker.js";
export { resolveBroker, resolveEvents, resolveRegistry, resolveTransport } from "./service/resolve.js";
export type { PublishOptions } from "./client/publish.js";
export type { MessageContext, Publication, SubscriberFunc, SubscriberWrapper, SubscriptionHandler, SubscriptionOptions } from "./server/subscriber.js";
export { Selector, random, roundRobin, leastRequests, filterVersion, filterMetadata, filterEndpoint, type Filter, type Strategy } from "./selector/selector.js";
