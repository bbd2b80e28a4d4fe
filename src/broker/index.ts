export type { Broker, BrokerEvent, BrokerHandler, BrokerMessage, BrokerPublishOptions, Header, NackOptions, SubscribeOptions, Subscriber } from "./broker.js";
export {
  BROADCAST_VERSION,
  HTTP_BROKER_SERVICE,
  HttpBroker,
  type HttpBrokerOptions,
  type HttpBrokerTlsOptions,
  UndeliveredError,
  type UndeliveredSubscriber,
} from "./http.js";
export { MemoryBroker, type MemoryBrokerOptions } from "./memory.js";
