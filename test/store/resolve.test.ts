import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createService, createStore, jsonTable, resolveStore, type Store } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { FileStore } from "../../src/store/file.js";
import { MemoryStore } from "../../src/store/memory.js";
import { NatsStore } from "../../src/store/nats.js";
import { PostgresStore } from "../../src/store/postgres.js";
import { RedisStore } from "../../src/store/redis.js";
import { quiet } from "../setup/logger.js";
import { tempDirs } from "../setup/temp-dirs.js";

const tempDir = tempDirs("ts-micro-store-");

/** Runs `body` with the given MICRO_* variables set, restoring them after. */
async function withEnv(vars: Record<string, string | undefined>, body: () => Promise<void> | void): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  set(vars);
  try {
    await body();
  } finally {
    set(saved);
  }
}

const NO_STORE_ENV = { MICRO_STORE: undefined, MICRO_STORE_ADDRESS: undefined, MICRO_STORE_DATABASE: undefined, MICRO_STORE_TABLE: undefined };

describe("store resolution", () => {
  it("defaults to the file store", () =>
    withEnv(NO_STORE_ENV, async () => {
      const store = resolveStore();
      assert.ok(store instanceof FileStore);
      assert.equal(store.name, "file");
      await store.close();
    }));

  it("picks a store by name or URL scheme", async () => {
    const stores: Store[] = [
      resolveStore("memory"),
      resolveStore("file", tempDir()),
      resolveStore("postgres://postgres@127.0.0.1:5432/test"),
      resolveStore("postgresql://postgres@127.0.0.1:5432/test"),
      resolveStore("redis://127.0.0.1:6379"),
      resolveStore("redis", "127.0.0.1:6379"),
      resolveStore("nats://127.0.0.1:4222"),
      resolveStore("nats", "127.0.0.1:4222"),
    ];
    assert.deepEqual(
      stores.map((s) => s.constructor),
      [MemoryStore, FileStore, PostgresStore, PostgresStore, RedisStore, RedisStore, NatsStore, NatsStore],
    );
    assert.deepEqual((stores[6] as NatsStore).servers, ["nats://127.0.0.1:4222"]);
    await Promise.all(stores.map((s) => s.close()));
    assert.throws(() => resolveStore("etcd"), /unknown store "etcd" \(MICRO_STORE\): available are file, memory, postgres, redis, nats/);
  });

  it("reads MICRO_STORE, MICRO_STORE_ADDRESS, MICRO_STORE_DATABASE and MICRO_STORE_TABLE", async () => {
    const dir = tempDir();
    await withEnv({ MICRO_STORE: "file", MICRO_STORE_ADDRESS: dir, MICRO_STORE_DATABASE: "orders", MICRO_STORE_TABLE: "items" }, async () => {
      const store = createStore();
      await store.write({ key: "k", value: "v" });
      await store.close();
    });
    const check = new FileStore({ dir });
    assert.deepEqual(await check.list({ database: "orders", table: "items" }), ["k"]);
    await check.close();
  });

  it("refuses an invalid database name from the environment when the store is made", () =>
    withEnv({ ...NO_STORE_ENV, MICRO_STORE: "memory", MICRO_STORE_DATABASE: "no spaces" }, () => {
      assert.throws(
        () => createStore(),
        (err: unknown) => (err as { code?: number }).code === 400,
      );
    }));

  it("createStore takes options over the environment", () =>
    withEnv({ MICRO_STORE: "file" }, async () => {
      const store = createStore({ name: "memory", table: "t" });
      assert.ok(store instanceof MemoryStore);
      await store.write({ key: "k", value: "v" });
      assert.deepEqual(await store.list({ table: "t" }), ["k"]);
      await store.close();
    }));
});

describe("service.store", () => {
  it("is created on first use from MICRO_STORE and closed when the service stops", () =>
    withEnv({ ...NO_STORE_ENV, MICRO_STORE: "file", MICRO_STORE_ADDRESS: tempDir() }, async () => {
      const service = createService({ name: "store-user", registry: new MemoryRegistry(), logger: quiet });
      await service.start();
      const users = jsonTable<{ name: string }>(service.store, { table: "users" });
      await users.put("alice", { name: "Alice" });
      assert.deepEqual(await users.get("alice"), { name: "Alice" });
      assert.equal(service.store, service.store, "one store per service");
      await service.stop();
      await assert.rejects(service.store.list(), /closed/);
    }));

  it("uses a store passed in options and leaves it open on stop", async () => {
    const store = new MemoryStore();
    const service = createService({ name: "store-owner", registry: new MemoryRegistry(), logger: quiet, store });
    await service.start();
    assert.equal(service.store, store);
    await service.store.write({ key: "k", value: "v" });
    await service.stop();
    assert.deepEqual(await store.list(), ["k"]);
  });
});
