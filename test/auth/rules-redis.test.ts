import { after } from "node:test";
import { StoreRules } from "../../src/auth/store-rules.js";
import { RedisStore } from "../../src/store/redis.js";
import { rulesConformance } from "../conformance/auth-rules.js";
import { freshTable } from "../conformance/store.js";
import { deleteRedisRunKeys } from "../setup/run-data.js";
import { requireServer, SERVERS } from "../setup/servers.js";

const ADDRESS = "127.0.0.1:6379";
/** Every key this run writes starts with `t<pid>_`. */
const database = freshTable();
after(() => deleteRedisRunKeys(ADDRESS));

// Each instance has its own connection, as two nodes of a system would.
rulesConformance("store rules on the redis store", {
  create: (table) => new StoreRules({ store: new RedisStore({ address: ADDRESS, database }), table, refreshInterval: 100, ownsStore: true }),
  preflight: () => requireServer("Redis", SERVERS.redis.port, SERVERS.redis.start),
});
