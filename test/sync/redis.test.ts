/** The Redis Sync against the shared Redis on 127.0.0.1:6379, with a key prefix of its own per run. */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { RedisSync } from "../../src/sync/redis.js";
import { syncConformance } from "../conformance/sync.js";
import { requireServer, SERVERS } from "../setup/servers.js";

const prefix = `test:sync:${randomUUID().slice(0, 8)}:`;
const raw = new Redis("redis://127.0.0.1:6379", { lazyConnect: true });
before(() => requireServer("Redis", SERVERS.redis.port, SERVERS.redis.start));
after(async () => {
  const keys = await raw.keys(`${prefix}*`);
  if (keys.length) await raw.del(...keys);
  await raw.quit();
});

syncConformance("redis", {
  create: () => new RedisSync({ prefix }),
  abandon: (sync) => (sync as RedisSync).abandon(),
  shortTtl: 500,
});

describe("redis sync specifics", () => {
  it("never releases a lock another holder took after its own key expired", async () => {
    const a = new RedisSync({ prefix });
    const b = new RedisSync({ prefix });
    try {
      const stale = await a.lock("takeover", { ttl: 3_000 });
      await raw.del(`${prefix}lock:takeover`); // as if it expired while a was paused
      const fresh = await b.lock("takeover", { ttl: 10_000, wait: 5_000 });
      await eventually(() => stale.lost.aborted, "a's next renewal to notice");
      await stale.unlock(); // a's owner no longer matches: b's key stays
      assert.equal((await raw.pttl(`${prefix}lock:takeover`)) > 0, true, "b's key is still there");
      assert.ok(fresh.token > stale.token);
      await fresh.unlock();
      assert.equal(await raw.exists(`${prefix}lock:takeover`), 0);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

async function eventually(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(condition(), what);
}
