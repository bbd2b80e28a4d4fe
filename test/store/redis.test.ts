import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Redis } from "ioredis";
import { RedisStore } from "../../src/store/redis.js";
import { freshTable, storeConformance, writeWhenReconnected } from "../conformance/store.js";
import { deleteRedisRunKeys } from "../setup/run-data.js";
import { PrivateServer, requireServer, SERVERS } from "../setup/servers.js";

const ADDRESS = "127.0.0.1:6379";
const preflight = () => requireServer("Redis", SERVERS.redis.port, SERVERS.redis.start);
/** Every key this run writes starts with `t<pid>_` (its databases are named so). */
const database = freshTable();

after(() => deleteRedisRunKeys(ADDRESS));

storeConformance("redis", { create: () => new RedisStore({ address: ADDRESS, database }), preflight });

describe("redis store layout", () => {
  const stores: RedisStore[] = [];
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });

  it("keeps a record in <database>/<table>/<key> with native expiry, indexed in <database>/<table>", { timeout: 20_000 }, async () => {
    await preflight();
    const db = freshTable();
    const store = new RedisStore({ address: ADDRESS, database: db });
    stores.push(store);
    await store.write({ key: "k", value: "v", metadata: { a: 1 } }, { table: "t", ttl: 60_000 });
    const redis = new Redis(ADDRESS);
    try {
      assert.deepEqual(await redis.hgetall(`${db}/t/k`), { value: "v", metadata: '{"a":1}' });
      const ttl = await redis.pttl(`${db}/t/k`);
      assert.ok(ttl > 0 && ttl <= 60_000);
      assert.deepEqual(await redis.zrange(`${db}/t`, "0", "-1"), ["k"]);
      // An expired record's index entry is dropped when a list meets it.
      await store.write({ key: "brief", value: "v" }, { table: "t", ttl: 100 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(await store.list({ table: "t" }), ["k"]);
      assert.deepEqual(await redis.zrange(`${db}/t`, "0", "-1"), ["k"]);
    } finally {
      redis.disconnect();
    }
  });

  it("fails a call with a 503 when the server cannot be reached", { timeout: 20_000 }, async () => {
    const store = new RedisStore({ address: "127.0.0.1:1" });
    stores.push(store);
    await assert.rejects(store.list(), (err: unknown) => (err as { code?: number }).code === 503);
  });
  it("fails fast with a 503 while its server is down, and works again when it is back, without a restart", { timeout: 60_000 }, async () => {
    const server = await PrivateServer.create("redis");
    const store = new RedisStore({ address: server.address });
    stores.push(store);
    try {
      await store.write({ key: "before", value: "v" });
      await server.stop();
      await assert.rejects(store.write({ key: "during", value: "v" }), (err: unknown) => (err as { code?: number }).code === 503);
      await assert.rejects(store.list(), (err: unknown) => (err as { code?: number }).code === 503);
      await server.start();
      // The same store reconnects by itself (within its 2 s retry interval); poll, bounded by the test timeout.
      await writeWhenReconnected(store, "after");
      assert.deepEqual(await store.list(), ["after"]);
    } finally {
      await server.destroy();
    }
  });
});
