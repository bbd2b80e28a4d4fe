/**
 * The etcd and NATS KV config sources: read, write, and hot reload across processes (three
 * processes watching see a set), and an etcd restarted under a watch (the watch resumes).
 * etcd is a private server on a free port; NATS is the shared server (with JetStream).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { WritableSource } from "../../src/config/config.js";
import { ConfigError } from "../../src/config/config.js";
import { etcd } from "../../src/config/etcd.js";
import { loadConfig } from "../../src/config/load.js";
import { nats } from "../../src/config/nats.js";
import { distRoot, type ServiceProcess, startProcess, stopAll } from "../process/harness.js";
import { LogRecorder, quiet } from "../setup/logger.js";
import { freePort, privateEtcd, requireSharedNats } from "../setup/servers.js";
import { until } from "../setup/wait.js";

const watcherScript = path.join(distRoot, "test", "config", "fixtures", "watcher.js");
/** A generous bound for a change to reach every process; the measured latency is reported. */
const APPLY_BOUND = 10_000;

const etcdServer = privateEtcd(await freePort());
await etcdServer.start();
after(() => etcdServer.dispose());

interface Backend {
  name: string;
  env: () => Promise<Record<string, string>>;
  /** A source on the same data as the processes', for the test's own reads and writes. */
  source: (env: Record<string, string>) => WritableSource;
  cleanup?: (env: Record<string, string>) => Promise<void>;
}

const backends: Backend[] = [
  {
    name: "etcd",
    env: async () => ({ CONFIG_SOURCE: "etcd", CONFIG_ADDRESS: etcdServer.address, CONFIG_PREFIX: `/test/${randomUUID().slice(0, 8)}/` }),
    source: (env) => etcd({ hosts: env.CONFIG_ADDRESS, prefix: env.CONFIG_PREFIX }),
  },
  {
    name: "nats",
    env: async () => ({ CONFIG_SOURCE: "nats", CONFIG_ADDRESS: await requireSharedNats(), CONFIG_BUCKET: `config_test_${randomUUID().slice(0, 8)}` }),
    source: (env) => nats({ servers: env.CONFIG_ADDRESS, bucket: env.CONFIG_BUCKET }),
    cleanup: async (env) => {
      const { connect } = await import("@nats-io/transport-node");
      const { Kvm } = await import("@nats-io/kv");
      const nc = await connect({ servers: env.CONFIG_ADDRESS });
      await (await new Kvm(nc).open(env.CONFIG_BUCKET)).destroy().catch(() => {});
      await nc.close();
    },
  },
];

for (const backend of backends) {
  describe(`config source: ${backend.name}`, () => {
    let env: Record<string, string>;
    let source: WritableSource;
    before(async () => {
      env = await backend.env();
      source = backend.source(env);
    });
    after(async () => {
      await source.close?.();
      await backend.cleanup?.(env);
    });

    it("reads nothing when empty, then what set() wrote, path by path", async () => {
      assert.ok([undefined, null].includes((await source.read())?.greeting as never));
      await source.set("db.host", "h");
      await source.set("db.port", 5432);
      await source.set("tags", ["a", "b"]);
      const config = await loadConfig({ sources: [backend.source(env)], logger: quiet });
      assert.deepEqual(config.all(), { db: { host: "h", port: 5432 }, tags: ["a", "b"] });
      await config.close();
    });

    it("three processes watching see a set", { timeout: 60_000 }, async (t) => {
      await source.set("greeting", "Hello");
      const processes: ServiceProcess[] = [];
      try {
        for (let i = 0; i < 3; i++) processes.push(await startProcess(watcherScript, env, 20_000));
        for (const p of processes) assert.match(p.output(), /READY "Hello"/);
        for (const word of ["Hi", "Hola", "Bonjour"]) {
          const started = performance.now();
          const seenAt: number[] = [];
          await source.set("greeting", word);
          await until(
            () => {
              for (const [i, p] of processes.entries())
                if (seenAt[i] === undefined && p.output().includes(`VALUE "${word}"`)) seenAt[i] = performance.now() - started;
              return seenAt.filter((ms) => ms !== undefined).length === processes.length;
            },
            APPLY_BOUND,
            () => `every process sees ${word}; output:\n${processes.map((p) => p.output()).join("\n---\n")}`,
          );
          t.diagnostic(`${backend.name}: set "${word}" seen by 3 processes after ${seenAt.map((ms) => `${ms.toFixed(1)} ms`).join(", ")}`);
        }
      } finally {
        stopAll(processes);
      }
    });

    // etcd's prefix layout has no document to break (a key that is not JSON is text): NATS only.
    if (backend.name !== "nats") return;
    it("an invalid document is rejected and logged; the last good config stays", async () => {
      const log = new LogRecorder();
      const config = await loadConfig({ sources: [backend.source(env)], logger: log });
      const before = config.get("greeting");
      const { connect } = await import("@nats-io/transport-node");
      const { Kvm } = await import("@nats-io/kv");
      const nc = await connect({ servers: env.CONFIG_ADDRESS });
      const kv = await new Kvm(nc).open(env.CONFIG_BUCKET);
      const good = (await kv.get("micro_config"))!.string();
      await kv.put("micro_config", '{"greeting": "secret-broken",');
      await until(() => log.lines.length > 0, APPLY_BOUND, "the rejected update logged");
      assert.equal(config.get("greeting"), before);
      assert.match(String(log.lines[0].fields.err), /not valid JSON/);
      assert.doesNotMatch(JSON.stringify(log.lines), /secret-broken/);
      await kv.put("micro_config", good);
      await nc.close();
      await config.close();
    });
  });
}

describe("config source: etcd restarted under a watch", () => {
  it("the watch resumes and sees changes made after the restart", { timeout: 60_000 }, async (t) => {
    const server = privateEtcd(await freePort());
    await server.start();
    const prefix = "/restart/";
    const writer = etcd({ hosts: server.address, prefix });
    const log = new LogRecorder();
    const config = await loadConfig({ sources: [etcd({ hosts: server.address, prefix })], logger: log });
    try {
      await writer.set("greeting", "before");
      await until(() => config.get("greeting") === "before", APPLY_BOUND, "the first value");
      await server.stop();
      await assert.rejects(writer.set("greeting", "down"), ConfigError);
      await server.start();
      const started = performance.now();
      // The writer's own connection comes back too; retry until it does.
      for (let attempt = 0; ; attempt++) {
        try {
          await writer.set("greeting", "after");
          break;
        } catch (err) {
          if (attempt > 50) throw err;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      await until(
        () => config.get("greeting") === "after",
        20_000,
        () => `greeting is ${config.get("greeting")}; log: ${JSON.stringify(log.lines)}`,
      );
      t.diagnostic(`a change after the restart applied ${(performance.now() - started).toFixed(0)} ms after etcd was back`);
      assert.ok(log.find("disconnected"), "the outage was logged");
    } finally {
      await config.close();
      await writer.close();
      await server.dispose();
    }
  });
});
