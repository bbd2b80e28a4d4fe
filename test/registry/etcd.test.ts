/**
 * The etcd registry against an etcd this test starts on a loopback port (Debian's etcd-server):
 * the conformance suite and Go Micro's key layout.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, it } from "node:test";
import { Etcd3 } from "etcd3";
import { CacheRegistry } from "../../src/registry/cache.js";
import { EtcdRegistry, nodePath, parseHosts } from "../../src/registry/etcd.js";
import { makeService, registryConformance } from "../conformance/registry.js";
import { privateEtcd } from "../setup/servers.js";
import { eventually } from "../setup/wait.js";

const etcd = privateEtcd(23790);
await etcd.start();
after(() => etcd.dispose());
const hosts = `127.0.0.1:${etcd.port}`;

registryConformance("etcd", () => new EtcdRegistry({ hosts }));
registryConformance("cache over etcd", () => new CacheRegistry(new EtcdRegistry({ hosts }), { closeInner: true }));

describe("etcd registry specifics", () => {
  const raw = new Etcd3({ hosts: `http://${hosts}` });
  after(() => raw.close());

  it("parses hosts like Go Micro", () => {
    assert.deepEqual(parseHosts(undefined), ["http://127.0.0.1:2379"]);
    assert.deepEqual(parseHosts("a, b:2380,http://c:1"), ["http://a:2379", "http://b:2380", "http://c:1"]);
    assert.equal(nodePath("go.micro/srv", "x/y"), "/micro/registry/go.micro-srv/x-y");
  });

  it("writes json(Service) with one node at /micro/registry/<service>/<node>, on a lease of the TTL", async () => {
    const registry = new EtcdRegistry({ hosts });
    try {
      const service = makeService(`layout-${randomUUID().slice(0, 8)}`, "1.0.0", ["a"]);
      await registry.register(service, { ttl: 30_000 });
      const key = `/micro/registry/${service.name}/${service.name}-a`;
      const value = await raw.get(key).string();
      assert.equal(value, JSON.stringify(service), "Go's field order, one node");
      const kv = (await raw.get(key).exec()).kvs[0];
      assert.ok(kv.lease && kv.lease !== "0", "attached to a lease");
      const info = await raw.leaseClient.leaseTimeToLive({ ID: kv.lease });
      assert.equal(Number(info.grantedTTL), 30);
    } finally {
      await registry.close();
    }
  });

  it("finds a node a Go Micro program wrote", async () => {
    const registry = new EtcdRegistry({ hosts });
    try {
      const service = makeService(`gowrote-${randomUUID().slice(0, 8)}`, "latest", ["go"]);
      await raw.put(`/micro/registry/${service.name}/${service.name}-go`).value(JSON.stringify({ ...service, metadata: null }));
      await eventually(async () => assert.deepEqual(await registry.getService(service.name), [{ ...service, metadata: null }]));
    } finally {
      await registry.close();
    }
  });

  it("registers again on the next heartbeat after its lease was lost", async () => {
    const registry = new EtcdRegistry({ hosts });
    try {
      const service = makeService(`lost-${randomUUID().slice(0, 8)}`, "1.0.0", ["a"]);
      await registry.register(service, { ttl: 30_000 });
      const key = `/micro/registry/${service.name}/${service.name}-a`;
      const lease = (await raw.get(key).exec()).kvs[0].lease!;
      await raw.leaseClient.leaseRevoke({ ID: lease }); // as if it had expired while we were cut off
      assert.equal(await raw.get(key).string(), null);
      await registry.register(service, { ttl: 30_000 });
      assert.equal(await raw.get(key).string(), JSON.stringify(service));
    } finally {
      await registry.close();
    }
  });
});
