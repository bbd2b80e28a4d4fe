/**
 * Services on the NATS transport, across processes: a service started with MICRO_TRANSPORT=nats
 * registers its subject in the host-local registry, and clients in other processes (this one,
 * and the micro CLI with the same env) call it and stream from it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Greeter } from "../../examples/greeter/greeter.js";
import { createClient, MicroError } from "../../src/index.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { resolveTransport } from "../../src/service/resolve.js";
import { quiet } from "../setup/logger.js";
import { requireSharedNats } from "../setup/servers.js";
import { fixture, runCli, type ServiceProcess, startProcess, stopAll, tempRegistry } from "./harness.js";

const servers = await requireSharedNats();

describe("the nats transport between processes", () => {
  const dir = tempRegistry();
  const env = { MICRO_REGISTRY_ADDRESS: dir, MICRO_TRANSPORT: "nats", MICRO_TRANSPORT_ADDRESS: servers };
  const registry = new LocalRegistry({ path: dir });
  const client = createClient({ registry, transport: resolveTransport("nats", servers), logger: quiet });
  const greeter = client.service<{ Greeter: Greeter }>("streamer").Greeter;
  const started: ServiceProcess[] = [];

  before(async () => {
    started.push(await startProcess(fixture("stream-service"), env));
  });
  after(async () => {
    stopAll(started);
    client.close();
    await registry.close();
  });

  it("registers the listener's subject as the node address, with transport nats", async () => {
    const [service] = await registry.getService("streamer");
    const node = service.nodes[0];
    assert.match(node.address, /^micro\.transport\.[0-9a-f]+$/);
    assert.equal(node.address, started[0].address);
    assert.equal(node.metadata?.transport, "nats");
  });

  it("serves unary calls and every kind of stream", async () => {
    assert.deepEqual(await greeter.Hello({ name: "Ada" }), { msg: "Hello Ada" });
    const counted: number[] = [];
    for await (const { n } of greeter.Count({ to: 5 })) counted.push(n);
    assert.deepEqual(counted, [1, 2, 3, 4, 5]);
    assert.deepEqual(
      await greeter.Sum(
        (async function* () {
          yield* [10, 20, 30].map((n) => ({ n }));
        })(),
      ),
      { total: 60 },
    );
  });

  it("answers the micro CLI run with the same env", async () => {
    const call = await runCli(["call", "streamer", "Greeter.Hello", '{"name":"Ada"}'], env);
    assert.equal(call.code, 0, call.stderr);
    assert.deepEqual(JSON.parse(call.stdout), { msg: "Hello Ada" });
    const stream = await runCli(["stream", "streamer", "Greeter.Count", '{"to":3}'], env);
    assert.equal(stream.code, 0, stream.stderr);
    assert.equal(stream.stdout, '{"n":1}\n{"n":2}\n{"n":3}\n');
  });

  it("ends a stream with 503 when its node is killed mid-stream", async () => {
    const victim = await startProcess(fixture("stream-service"), { ...env, SERVICE_NAME: "doomed" });
    started.push(victim);
    const doomed = client.service<{ Greeter: Greeter }>("doomed").Greeter;
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of doomed.Count({ to: 10_000, delayMs: 10 })) if (++received === 5) victim.child.kill("SIGKILL");
      })(),
      (err: unknown) => err instanceof MicroError && err.code === 503,
    );
    assert.ok(received >= 5);
  });
});
