export type { Broker, BrokerEvent, BrokerHandler, BrokerMessage, Header, NackOptions, PublishOptions, SubscribeOptions, Subscriber } from "./broker.js";
export { TOPIC_HEADER } from "./broker.js";
export { MemoryBroker, type MemoryBrokerOptions } from "./memory.js";
export { HttpBroker, HTTP_BROKER_SERVICE, BROADCAST_VERSION, type HttpBrokerOptions } from "./http.js";
export { resolveBroker, BROKERS, type ResolveBrokerOptions } from "./resolve.js";
export { decodeEnvelope, encodeEnvelope } from "./util.js";
