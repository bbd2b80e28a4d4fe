/**
 * Discovery under failure, with real processes and real servers, for the nats and etcd registries
 * (mdns has its own in test/registry/mdns.test.ts). Each registry gets a private server the test
 * may kill (never the shared NATS on 4222): a nats-server and an etcd on spare loopback ports.
 *
 * Under a steady load of idempotent calls:
 * - kill -9 one of three nodes: no call fails, and the node leaves the registry and the client's
 *   cache within its TTL;
 * - kill the registry server for a few seconds: calls to known nodes keep succeeding, and the
 *   nodes are registered again once it is back;
 * - cut one node off from the registry (a partition): it leaves, and comes back registered when
 *   the link is restored;
 * - start a node while the registry server is down: it waits (retrying, logged) instead of exiting,
 *   and registers and is called once the server is back.
 * No call may take longer than its deadline.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "../../src/client/client.js";
import { CacheRegistry } from "../../src/registry/cache.js";
import { EtcdRegistry } from "../../src/registry/etcd.js";
import { NatsRegistry } from "../../src/registry/nats.js";
import type { Registry } from "../../src/registry/registry.js";
import { Selector } from "../../src/selector/selector.js";
import { MuxTransport } from "../../src/transport/mux/mux.js";
import { fixture, type ServiceProcess, startProcess, stopAll } from "../process/harness.js";
import { quiet } from "../setup/logger.js";
import { CuttableProxy } from "../setup/proxy.js";
import { freePort, type OwnedServer, privateEtcd, privateNats } from "../setup/servers.js";
import { waitFor } from "../setup/wait.js";

const TTL_S = 3;
const CALL_TIMEOUT = 2_000;

interface Setup {
  name: "nats" | "etcd";
  server: () => OwnedServer;
  registry: (address: string) => Registry;
}

// Spare ports rather than fixed ones, so that two runs on one machine do not take each other's.
const natsPort = await freePort();
const etcdPort = await freePort(); // etcd's peer port is the next one
const setups: Setup[] = [
  { name: "nats", server: () => privateNats(natsPort), registry: (address) => new NatsRegistry({ servers: address }) },
  { name: "etcd", server: () => privateEtcd(etcdPort), registry: (address) => new EtcdRegistry({ hosts: address }) },
];

for (const setup of setups) {
  describe(`discovery under failure: ${setup.name}`, { timeout: 180_000 }, () => {
    const server = setup.server();
    const address = `127.0.0.1:${server.port}`;
    const processes: ServiceProcess[] = [];
    const cleanups: Array<() => Promise<void> | void> = [];
    let observer: Registry; // a registry of its own, to check what everyone else sees

    before(async () => {
      await server.start();
      observer = setup.registry(address);
    });
    after(async () => {
      stopAll(processes);
      for (const cleanup of cleanups.reverse()) await cleanup();
      await observer?.close();
      await server.dispose();
    });

    async function startNode(service: string, registryAddress = address, timeout?: number): Promise<ServiceProcess> {
      const node = await startProcess(
        fixture("echo-service"),
        {
          SERVICE_NAME: service,
          MICRO_REGISTRY: setup.name,
          MICRO_REGISTRY_ADDRESS: registryAddress,
          MICRO_REGISTER_TTL: String(TTL_S),
          MICRO_REGISTER_INTERVAL: "1",
        },
        timeout,
      );
      processes.push(node);
      return node;
    }

    function newClient(): { client: Client; cache: CacheRegistry } {
      const cache = new CacheRegistry(setup.registry(address), { closeInner: true });
      const client = new Client({ registry: cache, transport: new MuxTransport(), selector: new Selector(), logger: quiet, timeout: CALL_TIMEOUT });
      cleanups.push(async () => {
        client.close();
        await cache.close();
      });
      return { client, cache };
    }

    const registeredIds = async (registry: Registry, service: string): Promise<string[]> =>
      (await registry.getService(service).catch(() => [])).flatMap((s) => s.nodes.map((n) => n.id)).sort();
    const cachedIds = (cache: CacheRegistry, service: string): string[] => (cache.getCached(service) ?? []).flatMap((s) => s.nodes.map((n) => n.id)).sort();

    async function nodeId(client: Client, service: string, node: ServiceProcess): Promise<string> {
      return (await client.call<{ node: string }>(service, "Echo.Echo", {}, { address: node.address })).node;
    }

    async function threeNodes(service: string, client: Client): Promise<{ nodes: ServiceProcess[]; ids: string[] }> {
      const nodes = await Promise.all([startNode(service), startNode(service), startNode(service)]);
      const ids = await Promise.all(nodes.map((node) => nodeId(client, service, node)));
      assert.ok(await waitFor(async () => (await registeredIds(observer, service)).length === 3, 5_000), "three nodes registered");
      return { nodes, ids };
    }

    it("kill -9 of one of three nodes: no failed call, and it leaves the registry and the cache within its TTL", async () => {
      const service = `fail-kill-${setup.name}`;
      const { client, cache } = newClient();
      const { nodes, ids } = await threeNodes(service, client);
      const load = steadyLoad(client, service);
      assert.ok(await waitFor(() => cachedIds(cache, service).length === 3, 5_000), "the client's cache holds three nodes");
      await sleep(1_000);
      const killedAt = Date.now();
      nodes[0].child.kill("SIGKILL");
      const goneFromRegistry = await waitFor(async () => !(await registeredIds(observer, service)).includes(ids[0]), (TTL_S + 3) * 1000);
      const goneFromRegistryAfter = Date.now() - killedAt;
      const goneFromCache = await waitFor(() => !cachedIds(cache, service).includes(ids[0]), (TTL_S + 3) * 1000);
      const goneFromCacheAfter = Date.now() - killedAt;
      const result = await load.stop();
      assert.deepEqual(result.errors, [], `${result.failures} of ${result.calls} calls failed`);
      assert.ok(result.calls > 100, `steady load ran (${result.calls} calls)`);
      assert.ok(result.slowest <= CALL_TIMEOUT + 250, `no call outlived its deadline (slowest ${result.slowest} ms)`);
      assert.ok(goneFromRegistry, "the killed node left the registry");
      assert.ok(goneFromCache, "the killed node left the client's cache");
      // The TTL counts from the node's last heartbeat, up to a second before the kill; then the sweep.
      assert.ok(
        goneFromCacheAfter <= TTL_S * 1000 + 1_500,
        `left every view within its TTL: registry ${goneFromRegistryAfter} ms, cache ${goneFromCacheAfter} ms`,
      );
      assert.deepEqual(cachedIds(cache, service), ids.slice(1).sort());
    });

    it("the registry server down for a few seconds: calls to known nodes keep succeeding, registrations recover", async () => {
      const service = `fail-outage-${setup.name}`;
      const { client, cache } = newClient();
      const { ids } = await threeNodes(service, client);
      const load = steadyLoad(client, service);
      assert.ok(await waitFor(() => cachedIds(cache, service).length === 3, 5_000), "the client's cache holds three nodes");
      await sleep(500);
      await server.stop();
      const during = load.calls();
      await sleep(TTL_S * 1000 + 1_000); // longer than the TTL: nothing may expire because of an outage
      const callsDuringOutage = load.calls() - during;
      await server.start();
      const recovered = await waitFor(async () => (await registeredIds(observer, service)).join() === [...ids].sort().join(), 15_000, 200);
      const result = await load.stop();
      assert.deepEqual(result.errors, [], `${result.failures} of ${result.calls} calls failed`);
      assert.ok(callsDuringOutage > 50, `calls went on during the outage (${callsDuringOutage})`);
      assert.ok(result.slowest <= CALL_TIMEOUT + 250, `no call outlived its deadline (slowest ${result.slowest} ms)`);
      assert.ok(recovered, `all three nodes registered again after the outage; registry has ${await registeredIds(observer, service)}`);
      // The cache follows the registry again: a node started now is found and called.
      const late = await startNode(service);
      const lateId = await nodeId(client, service, late);
      assert.ok(await waitFor(() => cachedIds(cache, service).includes(lateId), 5_000), "a node registered after the outage reaches the cache");
    });

    it("a node cut off from the registry leaves it, and comes back registered when the link returns", async () => {
      const service = `fail-partition-${setup.name}`;
      const proxy = await CuttableProxy.start({ host: "127.0.0.1", port: server.port });
      cleanups.push(() => proxy.close());
      const { client, cache } = newClient();
      const partitioned = await startNode(service, `127.0.0.1:${proxy.port}`);
      await startNode(service);
      const partitionedId = await nodeId(client, service, partitioned);
      assert.ok(await waitFor(async () => (await registeredIds(observer, service)).length === 2, 5_000), "two nodes registered");
      const load = steadyLoad(client, service);
      proxy.cut();
      const left = await waitFor(async () => !(await registeredIds(observer, service)).includes(partitionedId), (TTL_S + 4) * 1000);
      assert.ok(left, "the cut-off node left the registry");
      assert.ok(await waitFor(() => !cachedIds(cache, service).includes(partitionedId), 3_000), "and the client's cache");
      const restoredAt = Date.now();
      proxy.restore();
      const back = await waitFor(async () => (await registeredIds(observer, service)).includes(partitionedId), 10_000);
      const backAfter = Date.now() - restoredAt;
      assert.ok(back, "the node is registered again once it can reach the registry");
      assert.ok(await waitFor(() => cachedIds(cache, service).includes(partitionedId), 5_000), "and back in the client's cache");
      const result = await load.stop();
      // The node itself stayed up and reachable all along, so no call may fail.
      assert.deepEqual(result.errors, [], `${result.failures} of ${result.calls} calls failed`);
      assert.ok(backAfter < 10_000, `back ${backAfter} ms after the link returned`);
    });

    it("a node started while the registry server is down keeps retrying, and registers and is called once it is back", async () => {
      const service = `fail-late-registry-${setup.name}`;
      const { client } = newClient();
      await server.stop();
      let startFailure: unknown;
      // The fixture prints READY once start() has resolved, that is once it is registered.
      const starting = startNode(service, address, 40_000).catch((err: unknown) => {
        startFailure = err;
        return undefined;
      });
      await sleep(3_000);
      assert.equal(startFailure, undefined, `the node gave up while the registry was down: ${String(startFailure)}`);
      await server.start();
      const backAt = Date.now();
      const node = await starting;
      assert.ok(node, `the node registered once the registry was back: ${String(startFailure)}`);
      const readyAfter = Date.now() - backAt;
      assert.ok(await waitFor(async () => (await registeredIds(observer, service)).length === 1, 5_000), "the node is in the registry");
      const reply = await client.call<{ node: string }>(service, "Echo.Echo", {}, { timeout: CALL_TIMEOUT });
      assert.ok(reply.node.startsWith(`${service}-`), `called through the registry: ${reply.node}`);
      console.log(`${setup.name}: a node started during a 3 s registry outage was ready ${readyAfter} ms after the server came back`);
    });
  });
}

/** Four workers calling `Echo.Echo` back to back (idempotent, so a failed node may be retried elsewhere). */
function steadyLoad(
  client: Client,
  service: string,
): { calls: () => number; stop: () => Promise<{ calls: number; failures: number; errors: string[]; slowest: number }> } {
  let stopped = false;
  let calls = 0;
  let failures = 0;
  let slowest = 0;
  const errors: string[] = [];
  const worker = async (): Promise<void> => {
    for (let i = 0; !stopped; i++) {
      const started = Date.now();
      try {
        await client.call(service, "Echo.Echo", { i }, { idempotent: true, timeout: CALL_TIMEOUT });
      } catch (err) {
        failures++;
        if (errors.length < 5) errors.push(String(err));
      }
      slowest = Math.max(slowest, Date.now() - started);
      calls++;
      await sleep(5);
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  return {
    calls: () => calls,
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
      return { calls, failures, errors, slowest };
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
