/**
 * Service lifecycle: hooks, env configuration, heartbeats, stop order; client call wrappers.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type CallWrapper, createClient, createService, MicroError } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { quiet } from "../setup/logger.js";

class Ping {
  async Ping(): Promise<{ pong: true }> {
    return { pong: true };
  }
}

function withEnv<T>(vars: Record<string, string>, run: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return run();
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
}

describe("service lifecycle", () => {
  it("runs hooks in order around start and stop, deregistering before the stop hooks finish", async () => {
    const registry = new MemoryRegistry();
    const events: string[] = [];
    const registered = async (): Promise<boolean> => (await registry.getService("hooks")).length > 0;
    const service = createService({
      name: "hooks",
      registry,
      logger: quiet,
      beforeStart: [async () => void events.push(`beforeStart registered=${await registered()}`)],
      afterStart: [async () => void events.push(`afterStart registered=${await registered()}`)],
      beforeStop: [async () => void events.push(`beforeStop registered=${await registered()}`)],
      afterStop: [async () => void events.push(`afterStop registered=${await registered()}`)],
    });
    service.handle(new Ping());
    await service.start();
    await service.stop();
    assert.deepEqual(events, ["beforeStart registered=false", "afterStart registered=true", "beforeStop registered=true", "afterStop registered=false"]);
    await assert.rejects(service.start(), /starts once/);
    await registry.close();
  });

  it("takes its configuration from Go Micro's env vars when code leaves it out", async () => {
    const registry = new MemoryRegistry();
    const service = withEnv(
      {
        MICRO_SERVER_NAME: "from-env",
        MICRO_SERVER_VERSION: "2.1.0",
        MICRO_SERVER_METADATA: "zone=a,tier=gold",
        MICRO_REGISTER_TTL: "2",
        MICRO_REGISTER_INTERVAL: "500ms",
      },
      () => createService({ registry, logger: quiet }),
    );
    service.handle(new Ping());
    await service.start();
    const [record] = await registry.getService("from-env");
    assert.equal(record.version, "2.1.0");
    assert.equal(record.nodes[0].metadata?.zone, "a");
    assert.equal(record.nodes[0].metadata?.tier, "gold");
    // The TTL is 2 s; heartbeats every 500 ms keep the node registered well past it.
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal((await registry.getService("from-env"))[0]?.nodes.length, 1, "still registered after 1.5 × TTL");
    await service.stop();
    await registry.close();
  });

  it("refuses an interval that is not shorter than the TTL, and a missing name", () => {
    assert.throws(() => createService({ name: "x", registry: new MemoryRegistry(), registerTtl: 1_000, registerInterval: 1_000 }), /must be shorter/);
    assert.throws(() => withEnv({ MICRO_SERVER_NAME: "" }, () => createService({ registry: new MemoryRegistry() })), /needs a name/);
  });

  it("runs call wrappers around each attempt, outermost first, with the chosen node", async () => {
    const registry = new MemoryRegistry();
    const service = createService({ name: "wrapped", registry, logger: quiet });
    service.handle(new Ping());
    await service.start();
    const seen: string[] = [];
    const tag =
      (name: string): CallWrapper =>
      (next) =>
      async (node, request, deadline, signal) => {
        seen.push(`${name}>${request.endpoint}@${node.address}`);
        request.header["X-Tag"] = name;
        return next(node, request, deadline, signal);
      };
    const client = createClient({ registry, logger: quiet, wrappers: [tag("outer"), tag("inner")] });
    assert.deepEqual(await client.call("wrapped", "Ping.Ping", {}), { pong: true });
    assert.deepEqual(seen, [`outer>Ping.Ping@${service.address}`, `inner>Ping.Ping@${service.address}`]);
    const refusing: CallWrapper = () => async () => {
      throw MicroError.forbidden("policy", "not today");
    };
    const blocked = createClient({ registry, logger: quiet, wrappers: [refusing] });
    await assert.rejects(blocked.call("wrapped", "Ping.Ping", {}), (err: unknown) => err instanceof MicroError && err.code === 403);
    client.close();
    blocked.close();
    await service.stop();
    await registry.close();
  });
});
