export { EtcdSync, type EtcdSyncOptions } from "./etcd.js";
export { MemoryLockTable, MemorySync, type MemorySyncOptions } from "./memory.js";
export { RedisSync, type RedisSyncOptions } from "./redis.js";
export { DEFAULT_LOCK_TTL, type LeaderOptions, type Leadership, type Lock, type LockOptions, LockTimeoutError, type Sync } from "./sync.js";
