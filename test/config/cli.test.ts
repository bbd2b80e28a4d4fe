/** `micro config get|set|dump` against etcd (a private server) and NATS KV (the shared server), seen by a watching config. */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, it } from "node:test";
import type { WritableSource } from "../../src/config/config.js";
import { etcd } from "../../src/config/etcd.js";
import { loadConfig } from "../../src/config/load.js";
import { nats } from "../../src/config/nats.js";
import { runCli } from "../process/harness.js";
import { quiet } from "../setup/logger.js";
import { freePort, privateEtcd, requireSharedNats } from "../setup/servers.js";
import { until } from "../setup/wait.js";

const etcdServer = privateEtcd(await freePort());
await etcdServer.start();
after(() => etcdServer.dispose());

const natsUrl = await requireSharedNats();
const bucket = `config_cli_${randomUUID().slice(0, 8)}`;
after(async () => {
  const { connect } = await import("@nats-io/transport-node");
  const { Kvm } = await import("@nats-io/kv");
  const nc = await connect({ servers: natsUrl });
  await (await new Kvm(nc).open(bucket)).destroy().catch(() => {});
  await nc.close();
});

const backends: Array<{ name: string; env: Record<string, string>; source: () => WritableSource }> = [
  { name: "etcd", env: { MICRO_CONFIG: "etcd", MICRO_CONFIG_ADDRESS: etcdServer.address }, source: () => etcd({ hosts: etcdServer.address }) },
  { name: "nats", env: { MICRO_CONFIG: "nats", MICRO_CONFIG_ADDRESS: natsUrl, MICRO_CONFIG_BUCKET: bucket }, source: () => nats({ servers: natsUrl, bucket }) },
];

for (const backend of backends) {
  describe(`micro config: ${backend.name}`, () => {
    it("set, get and dump; a watching config sees the set", { timeout: 60_000 }, async () => {
      assert.equal((await runCli(["config", "set", "greeting", "Hello"], backend.env)).code, 0);
      const config = await loadConfig({ sources: [backend.source()], logger: quiet });
      assert.equal(config.get("greeting"), "Hello");
      const set = await runCli(["config", "set", "greeting", "Hi"], backend.env);
      assert.equal(set.code, 0, set.stderr);
      await until(() => config.get("greeting") === "Hi", 10_000, "the watching config sees the CLI's set");
      await config.close();

      assert.equal((await runCli(["config", "set", "db.port", "5432"], backend.env)).code, 0);
      assert.equal((await runCli(["config", "set", "db.hosts", '["a","b"]'], backend.env)).code, 0);
      assert.equal((await runCli(["config", "get", "greeting"], backend.env)).stdout, "Hi\n");
      assert.equal((await runCli(["config", "get", "greeting", "--json"], backend.env)).stdout, '"Hi"\n');
      assert.equal((await runCli(["config", "get", "db.port"], backend.env)).stdout, "5432\n");
      const dump = await runCli(["config", "dump"], backend.env);
      assert.deepEqual(JSON.parse(dump.stdout), { greeting: "Hi", db: { port: 5432, hosts: ["a", "b"] } });
      const missing = await runCli(["config", "get", "db.nothing"], backend.env);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /db\.nothing: not set/);
    });
  });
}

describe("micro config: usage", () => {
  it("without MICRO_CONFIG, or with a wrong action, exits 2 saying what is missing", async () => {
    const unset = await runCli(["config", "dump"], { MICRO_CONFIG: "" });
    assert.equal(unset.code, 2);
    assert.match(unset.stderr, /needs MICRO_CONFIG=etcd or MICRO_CONFIG=nats/);
    const wrong = await runCli(["config", "delete", "a"], { MICRO_CONFIG: "etcd", MICRO_CONFIG_ADDRESS: etcdServer.address });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /config needs get, set or dump, not "delete"/);
  });
});
