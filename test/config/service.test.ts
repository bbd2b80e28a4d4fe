/** service.config, framework settings from config (Go Micro's flag names), and resolveConfigSource. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Config } from "../../src/config/config.js";
import { EtcdSource } from "../../src/config/etcd.js";
import { flags } from "../../src/config/flags.js";
import { loadConfig, loadConfigSync } from "../../src/config/load.js";
import { memory } from "../../src/config/memory.js";
import { NatsSource } from "../../src/config/nats.js";
import { resolveConfigSource } from "../../src/service/resolve.js";
import { createService } from "../../src/service/service.js";
import { quiet } from "../setup/logger.js";

/** Runs `work` with env vars set, restoring them after. */
async function withEnv(vars: Record<string, string | undefined>, work: () => Promise<void> | void): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  setEnv(vars);
  try {
    await work();
  } finally {
    setEnv(saved);
  }
}

function setEnv(vars: Record<string, string | undefined>): void {
  for (const [key, value] of Object.entries(vars)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

describe("service.config and framework settings", () => {
  it("takes settings from flags, as Go Micro's (--registry etcd --registry_address …)", async () => {
    const args = [
      "--server_name",
      "from-flags",
      "--server_version",
      "2.0",
      "--registry",
      "etcd",
      "--registry_address",
      "10.1.2.3:2379",
      "--transport",
      "memory",
      "--broker",
      "memory",
    ];
    const config = await loadConfig(flags({ args }));
    const service = createService({ config, logger: quiet });
    assert.equal(service.config, config);
    assert.equal(service.name, "from-flags");
    assert.equal(service.version, "2.0");
    assert.equal(service.registry.name, "etcd");
    assert.equal(service.transport.name, "memory");
    assert.equal(service.broker.name, "memory");
    await config.close();
  });

  it("code options win over config, config over MICRO_* env, env over defaults", async () => {
    await withEnv({ MICRO_TRANSPORT: "http", MICRO_SERVER_VERSION: "env-version", MICRO_BROKER: "memory", MICRO_REGISTER_TTL: "40" }, async () => {
      const config = await loadConfig(memory({ transport: "memory", server_version: "config-version", register_ttl: "1m", register_interval: 20 }));
      const fromConfig = createService({ name: "a", config, logger: quiet });
      assert.equal(fromConfig.transport.name, "memory");
      assert.equal(fromConfig.version, "config-version");
      const fromCode = createService({ name: "b", config, version: "code-version", logger: quiet });
      assert.equal(fromCode.version, "code-version");
      const fromEnv = createService({ name: "c", logger: quiet });
      assert.equal(fromEnv.transport.name, "http");
      assert.equal(fromEnv.version, "env-version");
      // Plain numbers are seconds, as in Go Micro's flags: an interval of 20 s with a TTL of 10 s is refused.
      assert.throws(() => createService({ name: "d", config: memoryConfig({ register_ttl: 10, register_interval: 20 }), logger: quiet }), /registerInterval/);
      await config.close();
    });
  });

  it("without a config, a service reads its command-line flags and keeps env behaviour", async () => {
    await withEnv({ MICRO_SERVER_NAME: "env-name", MICRO_TRANSPORT: "memory", MICRO_BROKER: "memory" }, () => {
      const service = createService({ logger: quiet });
      assert.equal(service.name, "env-name");
      assert.deepEqual(service.config.all(), {});
    });
  });

  it("an application section that shares a setting's name is not a setting; metadata may be an object", async () => {
    await withEnv({ MICRO_STORE: undefined, MICRO_TRANSPORT: "memory", MICRO_BROKER: "memory" }, async () => {
      const config = memoryConfig({ store: { orders: "table" }, server_metadata: { zone: "a", rack: 2 } });
      const service = createService({ name: "s", config, logger: quiet });
      assert.equal(service.store.name, "file");
      await service.store.close();
      // The node metadata a service registers (a private option, read here rather than starting it).
      const { options } = service as unknown as { options: { metadata: Record<string, string> } };
      assert.deepEqual(options.metadata, { zone: "a", rack: "2" });
    });
  });

  it("a bad setting in config is a clear error", async () => {
    assert.throws(() => createService({ name: "x", config: memoryConfig({ register_ttl: "soon" }), logger: quiet }), /register_ttl .* is not a duration/);
    assert.throws(() => createService({ name: "x", config: memoryConfig({ registry: "zookeeper" }), logger: quiet }), /unknown registry "zookeeper"/);
  });
});

describe("resolveConfigSource", () => {
  it("maps MICRO_CONFIG and its address to the etcd or NATS source; nothing named, nothing", async () => {
    await withEnv({ MICRO_CONFIG: undefined, MICRO_CONFIG_ADDRESS: undefined }, () => {
      assert.equal(resolveConfigSource(), undefined);
    });
    await withEnv({ MICRO_CONFIG: "etcd", MICRO_CONFIG_ADDRESS: "10.0.0.1:2379", MICRO_CONFIG_PREFIX: "/app/" }, () => {
      const source = resolveConfigSource();
      assert.ok(source instanceof EtcdSource);
      assert.deepEqual(source.hosts, ["http://10.0.0.1:2379"]);
      assert.equal(source.name, "etcd:/app/");
    });
    await withEnv({ MICRO_CONFIG: "nats://127.0.0.1:4222", MICRO_CONFIG_BUCKET: "apps", MICRO_CONFIG_KEY: "greeter" }, () => {
      const source = resolveConfigSource();
      assert.ok(source instanceof NatsSource);
      assert.equal(source.name, "nats:apps/greeter");
    });
    assert.throws(() => resolveConfigSource("consul"), /unknown config source "consul" \(MICRO_CONFIG\): available are etcd, nats/);
  });
});

/** A synchronous config over `data`, for constructor checks. */
function memoryConfig(data: Record<string, unknown>): Config {
  return loadConfigSync(memory(data));
}
