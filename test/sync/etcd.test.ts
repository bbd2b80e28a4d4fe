/**
 * The etcd Sync against an etcd this test starts on a loopback port: the conformance suite and
 * Go Micro's key layout (`/micro/sync/<id>/<lease hex>`, lowest create revision holds).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Etcd3 } from "etcd3";
import { EtcdSync, syncKey } from "../../src/sync/etcd.js";
import { syncConformance } from "../conformance/sync.js";
import { privateEtcd } from "../setup/servers.js";

const etcd = privateEtcd(23890);
await etcd.start();
after(() => etcd.dispose());
const hosts = `127.0.0.1:${etcd.port}`;

syncConformance("etcd", {
  create: () => new EtcdSync({ hosts }),
  abandon: (sync) => (sync as EtcdSync).abandon(),
  shortTtl: 2_000,
});

describe("etcd sync specifics", () => {
  const raw = new Etcd3({ hosts: `http://${hosts}` });
  after(() => raw.close());

  it("maps ids to Go Micro's keys", () => {
    assert.equal(syncKey("", "jobs/nightly"), "/micro/sync/jobs-nightly");
    assert.equal(syncKey("app/", "x"), "/micro/sync/app-x");
  });

  it("holds the lock as <key>/<lease hex> on a lease of the TTL; the token is its create revision", async () => {
    const sync = new EtcdSync({ hosts });
    try {
      const lock = await sync.lock("layout/one", { ttl: 5_000 });
      const { kvs } = await raw.getAll().prefix("/micro/sync/layout-one/").exec();
      assert.equal(kvs.length, 1);
      const kv = kvs[0];
      assert.equal(kv.key.toString(), `/micro/sync/layout-one/${BigInt(kv.lease).toString(16)}`);
      assert.equal(BigInt(kv.create_revision), lock.token);
      const info = await raw.leaseClient.leaseTimeToLive({ ID: kv.lease });
      assert.equal(Number(info.grantedTTL), 5);
      await lock.unlock();
      assert.equal((await raw.getAll().prefix("/micro/sync/layout-one/").exec()).kvs.length, 0, "unlock deletes the key");
    } finally {
      await sync.close();
    }
  });

  it("waits behind a key another client (such as Go Micro) wrote with a lower create revision", async () => {
    const sync = new EtcdSync({ hosts });
    const foreign = raw.lease(30);
    try {
      const leaseId = BigInt(await foreign.grant()).toString(16);
      await foreign.put(`/micro/sync/foreign/${leaseId}`).value("").exec();
      let got = false;
      const waiting = sync.lock("foreign", { ttl: 5_000 }).then((l) => {
        got = true;
        return l;
      });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(got, false, "the foreign holder excludes us");
      await foreign.revoke();
      await (await waiting).unlock();
    } finally {
      await sync.close();
    }
  });

  it("keeps a lock with a sub-second ttl (etcd's whole-second lease) without reporting it lost", async () => {
    const sync = new EtcdSync({ hosts });
    try {
      const lock = await sync.lock("short/ttl", { ttl: 200 });
      await new Promise((r) => setTimeout(r, 2_000));
      assert.equal(lock.lost.aborted, false, String(lock.lost.reason));
      await lock.unlock();
    } finally {
      await sync.close();
    }
  });

  it("writes the candidate's id as the election value, as Go Micro campaigns", async () => {
    const sync = new EtcdSync({ hosts });
    try {
      const term = await sync.leader("elect/layout", { ttl: 5_000 });
      const values = await raw.getAll().prefix("/micro/sync/elect-layout/").strings();
      assert.deepEqual(Object.values(values), ["elect/layout"]);
      await term.resign();
    } finally {
      await sync.close();
    }
  });
});
