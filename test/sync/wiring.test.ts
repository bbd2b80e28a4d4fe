/** resolveSync by name and env, and service.sync: created on first use, released on stop. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createService, isMicroError, resolveSync } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { EtcdSync } from "../../src/sync/etcd.js";
import { MemorySync } from "../../src/sync/memory.js";
import { NatsSync } from "../../src/sync/nats.js";
import { RedisSync } from "../../src/sync/redis.js";
import { MemoryTransport } from "../../src/transport/memory.js";
import { quiet } from "../setup/logger.js";

describe("resolveSync", () => {
  it("maps names and URLs to implementations, memory by default", () => {
    const saved = process.env.MICRO_SYNC;
    delete process.env.MICRO_SYNC;
    try {
      assert.ok(resolveSync() instanceof MemorySync);
    } finally {
      if (saved !== undefined) process.env.MICRO_SYNC = saved;
    }
    const etcd = resolveSync("etcd://10.0.0.1:2379");
    assert.ok(etcd instanceof EtcdSync);
    assert.deepEqual(etcd.hosts, ["http://10.0.0.1:2379"]);
    const redis = resolveSync("redis", "127.0.0.1:6380");
    assert.ok(redis instanceof RedisSync);
    assert.equal(redis.address, "127.0.0.1:6380");
    const nats = resolveSync("nats://10.0.0.2:4222");
    assert.ok(nats instanceof NatsSync);
    assert.deepEqual(nats.servers, ["nats://10.0.0.2:4222"]);
    assert.deepEqual((resolveSync("nats") as NatsSync).servers, ["nats://127.0.0.1:4222"]);
    assert.throws(() => resolveSync("zookeeper"), /unknown sync "zookeeper" \(MICRO_SYNC\): available are memory, etcd, redis, nats/);
  });

  it("reads MICRO_SYNC and MICRO_SYNC_ADDRESS", () => {
    const saved = { name: process.env.MICRO_SYNC, address: process.env.MICRO_SYNC_ADDRESS };
    process.env.MICRO_SYNC = "redis";
    process.env.MICRO_SYNC_ADDRESS = "127.0.0.1:6390";
    try {
      const sync = resolveSync();
      assert.ok(sync instanceof RedisSync);
      assert.equal(sync.address, "127.0.0.1:6390");
    } finally {
      for (const [key, value] of [
        ["MICRO_SYNC", saved.name],
        ["MICRO_SYNC_ADDRESS", saved.address],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});

describe("service.sync", () => {
  it("is one Sync per service, and stop() releases what it holds", async () => {
    const service = createService({ name: "sync-owner", registry: new MemoryRegistry(), transport: new MemoryTransport(), logger: quiet, sync: undefined });
    await service.start();
    assert.equal(service.sync, service.sync);
    const lock = await service.sync.lock("service/owned", { ttl: 60_000 });
    await service.stop();
    const other = new MemorySync();
    const next = await other.lock("service/owned", { wait: 1_000 });
    assert.ok(next.token > lock.token);
    await other.close();
  });

  it("leaves a Sync it was given open on stop", async () => {
    const given = new MemorySync();
    const service = createService({ name: "sync-given", registry: new MemoryRegistry(), transport: new MemoryTransport(), logger: quiet, sync: given });
    await service.start();
    assert.equal(service.sync, given);
    await service.stop();
    const lock = await given.lock("service/given", { wait: 1_000 });
    await lock.unlock();
    await given.close();
  });
});

describe("a backend that is down", () => {
  for (const sync of [new RedisSync({ address: "127.0.0.1:1", connection: { retryStrategy: () => 200 } }), new EtcdSync({ hosts: "127.0.0.1:1" })]) {
    it(`${sync.name}: lock fails with a MicroError (503, or 408 once wait passed) instead of hanging`, { timeout: 20_000 }, async () => {
      try {
        await assert.rejects(sync.lock("down", { wait: 1_500 }), (e: unknown) => isMicroError(e, 503) || isMicroError(e, 408));
      } finally {
        await sync.close();
      }
    });
  }
});
