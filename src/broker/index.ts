export type { Broker, BrokerEvent, BrokerHandler, BrokerMessage, BrokerPublishOptions, Header, NackOptions, SubscribeOptions, Subscriber } from "./broker.js";
export { MemoryBroker, type MemoryBrokerOptions } from "./memory.js";
export { HttpBroker, HTTP_BROKER_SERVICE, BROADCAST_VERSION, UndeliveredError, type HttpBrokerOptions, type HttpBrokerTlsOptions, type UndeliveredSubscriber } from "./http.js";
