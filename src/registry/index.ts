export { CacheRegistry, type CacheRegistryOptions } from "./cache.js";
export { defaultLocalRegistryPath, type LocalRecord, LocalRegistry, type LocalRegistryOptions } from "./local.js";
export { MemoryRegistry } from "./memory.js";
export type {
  Endpoint,
  Node,
  RegisterOptions,
  Registry,
  ServiceRecord,
  Value,
  WatchAction,
  WatchEvent,
  Watcher,
  WatchOptions,
} from "./registry.js";
export { DEFAULT_REGISTER_INTERVAL, DEFAULT_REGISTER_TTL, InvalidRecordError } from "./registry.js";
export { NODE_SIGNATURE, signedContent } from "./signature.js";
