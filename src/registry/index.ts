export type {
  Endpoint,
  Node,
  RegisterOptions,
  Registry,
  ServiceRecord,
  Value,
  WatchAction,
  WatchEvent,
  WatchOptions,
  Watcher,
} from "./registry.js";
export { DEFAULT_REGISTER_INTERVAL, DEFAULT_REGISTER_TTL, InvalidRecordError } from "./registry.js";
export { MemoryRegistry } from "./memory.js";
export { LocalRegistry, defaultLocalRegistryPath, type LocalRecord, type LocalRegistryOptions } from "./local.js";
export { CacheRegistry, type CacheRegistryOptions } from "./cache.js";
