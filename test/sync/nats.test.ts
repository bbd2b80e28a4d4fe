/**
 * The NATS Sync against the shared NATS server on 127.0.0.1:4222, in a bucket of its own per run:
 * the conformance suite, the layout (base32 keys, the revision as the fencing token), takeover by
 * compare-and-set, and a NATS outage on a private server.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { base32Encode } from "../../src/driver/base32.js";
import { isMicroError } from "../../src/errors/errors.js";
import { NatsSync } from "../../src/sync/nats.js";
import { syncConformance } from "../conformance/sync.js";
import { quiet } from "../setup/logger.js";
import { PrivateServer, requireSharedNats } from "../setup/servers.js";

const SERVER = "127.0.0.1:4222";
const bucket = `test_sync_${randomUUID().slice(0, 8)}`;
let nc: NatsConnection;
let raw: KV;
before(async () => {
  await requireSharedNats();
  nc = await connect({ servers: SERVER });
  raw = await new Kvm(nc).create(bucket);
});
after(async () => {
  await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`);
  await nc.close();
});

const create = (options: ConstructorParameters<typeof NatsSync>[0] = {}) => new NatsSync({ servers: SERVER, bucket, logger: quiet, ...options });

syncConformance("nats", {
  create: () => create(),
  abandon: (sync) => (sync as NatsSync).abandon(),
  shortTtl: 500,
});

describe("nats sync specifics", () => {
  it("holds the lock at base32(<prefix><id>); the token is the revision written", { timeout: 20_000 }, async () => {
    const sync = create({ prefix: "app/" });
    try {
      const lock = await sync.lock("jobs nightly", { ttl: 5_000 });
      const entry = await raw.get(base32Encode(new TextEncoder().encode("app/jobs nightly")));
      assert.ok(entry);
      assert.equal(entry.operation, "PUT");
      assert.equal(entry.json<{ ttl: number }>().ttl, 5_000);
      assert.ok(BigInt(entry.revision) >= lock.token, "the token is the acquisition's revision; renewals only add to it");
      await lock.unlock();
      assert.equal((await raw.get(entry.key))?.operation, "DEL");
    } finally {
      await sync.close();
    }
  });

  it("never deletes a lock another holder took over", { timeout: 20_000 }, async () => {
    const a = create();
    const b = create();
    try {
      const stale = await a.lock("takeover", { ttl: 3_000 });
      const key = base32Encode(new TextEncoder().encode("takeover"));
      await raw.delete(key); // as if it had been taken over while a was paused
      const fresh = await b.lock("takeover", { ttl: 10_000, wait: 5_000 });
      for (let i = 0; i < 100 && !stale.lost.aborted; i++) await delay(50);
      assert.ok(stale.lost.aborted, "a's next renewal notices");
      await stale.unlock();
      assert.equal((await raw.get(key))?.operation, "PUT", "b's lock is still there");
      assert.ok(fresh.token > stale.token);
      await fresh.unlock();
      assert.equal((await raw.get(key))?.operation, "DEL");
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("refuses a bucket name NATS cannot take with a 400", () => {
    assert.throws(
      () => new NatsSync({ bucket: "no.dots" }),
      (err: unknown) => isMicroError(err, 400),
    );
  });

  it("fails with a 503 when NATS is down, fires lost on the holder, and locks again once it is back", { timeout: 60_000 }, async () => {
    const server = await PrivateServer.create("nats", { jetstream: true });
    const sync = new NatsSync({ servers: server.address, logger: quiet });
    try {
      const held = await sync.lock("outage", { ttl: 1_000 });
      await server.stop();
      await assert.rejects(sync.lock("other", { wait: 0 }), (err: unknown) => isMicroError(err, 503));
      await assert.rejects(sync.lock("other"), (err: unknown) => isMicroError(err, 503), "a waiter without wait fails too, rather than hang");
      for (let i = 0; i < 100 && !held.lost.aborted; i++) await delay(50);
      assert.ok(held.lost.aborted, "the holder learns it lost the lock within its ttl");
      await server.start();
      for (;;) {
        try {
          const again = await sync.lock("other", { wait: 0 });
          assert.ok(again.token > held.token);
          await again.unlock();
          break;
        } catch (err) {
          assert.ok(isMicroError(err, 503), String(err));
          await delay(100);
        }
      }
    } finally {
      await sync.close();
      await server.destroy();
    }
  });
});
