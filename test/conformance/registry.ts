/**
 * The conformance suite every Registry implementation runs. Registries may be eventually
 * consistent (a watch-driven cache, a file directory, a network server), so every read after a
 * write polls until it holds or a generous deadline passes; no test asserts on timing otherwise.
 * Service names are unique per test, so a shared backend (a NATS or etcd server) works too.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterEach, describe, it } from "node:test";
import type { Registry, ServiceRecord, WatchEvent, Watcher } from "../../src/registry/registry.js";
import { eventually } from "../setup/wait.js";

const TEST = { timeout: 15_000 };

export function registryConformance(name: string, create: () => Promise<Registry> | Registry): void {
  describe(`Registry conformance: ${name}`, () => {
    const open: Registry[] = [];
    const registry = async (): Promise<Registry> => {
      const r = await create();
      open.push(r);
      return r;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((r) => r.close()));
    });

    it("round-trips a service with its full schema", TEST, async () => {
      const r = await registry();
      const service = makeService(unique("schema"), "1.0.0", ["n1"]);
      await r.register(service);
      await eventually(async () => assert.deepEqual(await r.getService(service.name), [service]));
    });

    it("returns an empty array for an unknown service", TEST, async () => {
      const r = await registry();
      assert.deepEqual(await r.getService(unique("unknown")), []);
    });

    it("keeps two nodes of one service in one version", TEST, async () => {
      const r = await registry();
      const name = unique("two-nodes");
      await r.register(makeService(name, "1.0.0", ["a"]));
      await r.register(makeService(name, "1.0.0", ["b"]));
      await eventually(async () => {
        const services = await r.getService(name);
        assert.equal(services.length, 1);
        assert.deepEqual(nodeIds(services[0]), [`${name}-a`, `${name}-b`]);
      });
    });

    it("keeps versions apart", TEST, async () => {
      const r = await registry();
      const name = unique("versions");
      await r.register(makeService(name, "1.0.0", ["a"]));
      await r.register(makeService(name, "2.0.0", ["b"]));
      await eventually(async () => {
        const services = sortByVersion(await r.getService(name));
        assert.deepEqual(
          services.map((s) => [s.version, nodeIds(s)]),
          [
            ["1.0.0", [`${name}-a`]],
            ["2.0.0", [`${name}-b`]],
          ],
        );
      });
    });

    it("deregistering one node leaves the other", TEST, async () => {
      const r = await registry();
      const name = unique("dereg-one");
      await r.register(makeService(name, "1.0.0", ["a"]));
      await r.register(makeService(name, "1.0.0", ["b"]));
      await eventually(async () => assert.equal((await r.getService(name))[0]?.nodes.length, 2));
      await r.deregister(makeService(name, "1.0.0", ["a"]));
      await eventually(async () => {
        const services = await r.getService(name);
        assert.equal(services.length, 1);
        assert.deepEqual(nodeIds(services[0]), [`${name}-b`]);
      });
    });

    it("deregistering the last node removes the service", TEST, async () => {
      const r = await registry();
      const service = makeService(unique("dereg-last"), "1.0.0", ["a"]);
      await r.register(service);
      await eventually(async () => assert.equal((await r.getService(service.name)).length, 1));
      await r.deregister(service);
      await eventually(async () => assert.deepEqual(await r.getService(service.name), []));
      await eventually(async () => assert.ok(!(await r.listServices()).some((s) => s.name === service.name)));
    });

    it("lists services", TEST, async () => {
      const r = await registry();
      const first = makeService(unique("list-a"), "1.0.0", ["a"]);
      const second = makeService(unique("list-b"), "0.1.0", ["b"]);
      await r.register(first);
      await r.register(second);
      await eventually(async () => {
        const listed = await r.listServices();
        for (const service of [first, second]) {
          assert.ok(
            listed.some((s) => s.name === service.name && s.version === service.version),
            `${service.name} is listed`,
          );
        }
      });
    });

    it("drops a node whose TTL runs out", TEST, async () => {
      const r = await registry();
      const service = makeService(unique("ttl"), "1.0.0", ["a"]);
      await r.register(service, { ttl: 300 });
      await eventually(async () => assert.deepEqual(await r.getService(service.name), []), 5_000);
    });

    it("re-registering refreshes the TTL", TEST, async () => {
      const r = await registry();
      const service = makeService(unique("refresh"), "1.0.0", ["a"]);
      const ttl = 1_000;
      const until = Date.now() + 2 * ttl; // well past the first registration's expiry
      while (Date.now() < until) {
        await r.register(service, { ttl });
        await eventually(async () => assert.equal((await r.getService(service.name)).length, 1));
        await sleep(ttl / 5);
      }
      await eventually(async () => assert.deepEqual(await r.getService(service.name), []), 5_000);
    });

    it("watch sees a node created and deleted", TEST, async () => {
      const r = await registry();
      const watcher = r.watch();
      try {
        const service = makeService(unique("watch"), "1.0.0", ["a"]);
        await r.register(service);
        const created = await nextEvent(watcher, (e) => e.service.name === service.name);
        assert.equal(created.action, "create");
        assert.deepEqual(created.service, service);
        await r.deregister(service);
        const deleted = await nextEvent(watcher, (e) => e.service.name === service.name && e.action === "delete");
        assert.deepEqual(nodeIds(deleted.service), [`${service.name}-a`]);
      } finally {
        watcher.stop();
      }
    });

    it("a watch for one service sees only that service", TEST, async () => {
      const r = await registry();
      const target = makeService(unique("watched"), "1.0.0", ["a"]);
      const other = makeService(unique("unwatched"), "1.0.0", ["a"]);
      const filtered = r.watch({ service: target.name });
      const all = r.watch(); // proves the other service's events exist
      try {
        await r.register(other);
        await r.register(target);
        const seen: WatchEvent[] = [];
        await nextEvent(filtered, (e) => {
          seen.push(e);
          return e.service.name === target.name && e.action === "create";
        });
        await nextEvent(all, (e) => e.service.name === other.name);
        await r.deregister(other);
        await r.deregister(target);
        await nextEvent(filtered, (e) => {
          seen.push(e);
          return e.service.name === target.name && e.action === "delete";
        });
        await nextEvent(all, (e) => e.service.name === other.name && e.action === "delete");
        assert.deepEqual(
          seen.filter((e) => e.service.name !== target.name),
          [],
        );
      } finally {
        filtered.stop();
        all.stop();
      }
    });

    it("stopping a watcher ends its iteration", TEST, async () => {
      const r = await registry();
      const watcher = r.watch();
      const pending = watcher.next();
      watcher.stop();
      assert.equal((await within(pending, "pending next() after stop")).done, true);
      assert.equal((await within(watcher.next(), "next() after stop")).done, true);

      const iterated = r.watch();
      const loop = (async () => {
        let count = 0;
        for await (const _ of iterated) count++;
        return count;
      })();
      iterated.stop();
      assert.equal(typeof (await within(loop, "for await after stop")), "number");
    });

    it("hands out copies", TEST, async () => {
      const r = await registry();
      const service = makeService(unique("copies"), "1.0.0", ["a"]);
      const expected = structuredClone(service);
      await r.register(service);
      service.nodes[0].address = "mutated:1";
      service.endpoints?.pop();
      await eventually(async () => assert.deepEqual(await r.getService(service.name), [expected]));

      const [read] = await r.getService(service.name);
      read.nodes[0].metadata = { mutated: "yes" };
      read.nodes.push({ id: "intruder", address: "x:1", metadata: null });
      read.endpoints = null;
      assert.deepEqual(await r.getService(service.name), [expected]);
    });
  });
}

// --- fixtures --------------------------------------------------------------------------------

function unique(prefix: string): string {
  return `conformance-${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A service using every field of the schema, with one node per id suffix. */
export function makeService(name: string, version: string, nodeSuffixes: string[]): ServiceRecord {
  return {
    name,
    version,
    metadata: { team: "core", "content-type": "application/json" },
    endpoints: [
      {
        name: "Greeter.Hello",
        request: {
          name: "Request",
          type: "Request",
          values: [
            { name: "name", type: "string", values: null },
            { name: "tags", type: "[]string", values: null },
            { name: "address", type: "Address", values: [{ name: "city", type: "string", values: null }] },
          ],
        },
        response: { name: "Response", type: "Response", values: [{ name: "msg", type: "string", values: null }] },
        metadata: {},
      },
      {
        name: "Sub.Handle",
        request: { name: "Event", type: "Event", values: [] },
        response: null,
        metadata: { subscriber: "true", topic: "events" },
      },
    ],
    nodes: nodeSuffixes.map((suffix, i) => ({
      id: `${name}-${suffix}`,
      address: `127.0.0.1:${10_000 + i}`,
      metadata: { protocol: "mucp", transport: "http", broker: "http", server: "mucp", registry: "test" },
    })),
  };
}

function nodeIds(service: ServiceRecord): string[] {
  return service.nodes.map((n) => n.id).sort();
}

function sortByVersion(services: ServiceRecord[]): ServiceRecord[] {
  return [...services].sort((a, b) => a.version.localeCompare(b.version));
}

// --- bounded waiting -------------------------------------------------------------------------

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with `promise`, or rejects when it takes longer than `timeout` ms. */
export function within<T>(promise: Promise<T>, what: string, timeout = 3_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for ${what}`)), timeout);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** The next event matching `match`, skipping others; fails after `timeout` ms. */
export async function nextEvent(watcher: Watcher, match: (e: WatchEvent) => boolean, timeout = 5_000): Promise<WatchEvent> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const result = await within(watcher.next(), "a watch event", Math.max(1, deadline - Date.now()));
    if (result.done) throw new Error("watcher ended before the expected event");
    if (match(result.value)) return result.value;
  }
}
