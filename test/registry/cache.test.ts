import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterEach, describe, it } from "node:test";
import { type LogFields, type Logger, logger, setLogger } from "../../src/logger/logger.js";
import { CacheRegistry } from "../../src/registry/cache.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import type { RegisterOptions, Registry, ServiceRecord, Watcher, WatchOptions } from "../../src/registry/registry.js";
import { makeService, sleep } from "../conformance/registry.js";
import { eventually } from "../setup/wait.js";

const TEST = { timeout: 10_000 };

/** A registry in front of a MemoryRegistry that counts calls and can be made to fail. */
class ProbeRegistry implements Registry {
  readonly name = "probe";
  readonly inner = new MemoryRegistry({ sweepInterval: 100 });
  getServiceCalls = 0;
  watchCalls = 0;
  failing = false;
  /** When set, getService answers "no nodes", as a registry just back from an outage may. */
  answeringEmpty = false;
  /** When set, getService waits for it: lets a test hold a lookup in flight. */
  gate: Promise<void> | undefined;
  private readonly watchers: Watcher[] = [];

  register(service: ServiceRecord, options?: RegisterOptions): Promise<void> {
    return this.inner.register(service, options);
  }
  deregister(service: ServiceRecord): Promise<void> {
    return this.inner.deregister(service);
  }
  async getService(name: string): Promise<ServiceRecord[]> {
    this.getServiceCalls++;
    await this.gate;
    if (this.failing) throw new Error("registry unreachable");
    if (this.answeringEmpty) return [];
    return this.inner.getService(name);
  }
  listServices(): Promise<ServiceRecord[]> {
    return this.inner.listServices();
  }
  watch(options?: WatchOptions): Watcher {
    this.watchCalls++;
    if (this.failing) throw new Error("registry unreachable");
    const watcher = this.inner.watch(options);
    this.watchers.push(watcher);
    return watcher;
  }
  /** Ends every watch handed out, as a dropped connection would. */
  breakWatches(): void {
    for (const watcher of this.watchers.splice(0)) watcher.stop();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

class CapturingLogger implements Logger {
  readonly warnings: Array<{ msg: string; fields?: LogFields }> = [];
  debug(): void {}
  info(): void {}
  warn(msg: string, fields?: LogFields): void {
    this.warnings.push({ msg, fields });
  }
  error(): void {}
  child(): Logger {
    return this;
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function setup(options: ConstructorParameters<typeof CacheRegistry>[1] = {}): { probe: ProbeRegistry; cache: CacheRegistry } {
  const probe = new ProbeRegistry();
  const cache = new CacheRegistry(probe, { closeInner: true, ...options });
  cleanups.push(() => cache.close());
  return { probe, cache };
}

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;
const ids = (services: ServiceRecord[] | undefined): string[] => (services ?? []).flatMap((s) => s.nodes.map((n) => n.id)).sort();

describe("CacheRegistry", () => {
  it("serves repeated lookups from the cache", TEST, async () => {
    const { probe, cache } = setup();
    const service = makeService(unique("hot"), "1.0.0", ["a"]);
    await probe.register(service);

    assert.equal(cache.getCached(service.name), undefined);
    assert.deepEqual(await cache.getService(service.name), [service]);
    for (let i = 0; i < 20; i++) assert.deepEqual(await cache.getService(service.name), [service]);
    assert.equal(probe.getServiceCalls, 1);
    assert.equal(probe.watchCalls, 1);

    const cached = cache.getCached(service.name);
    assert.deepEqual(cached, [service]);
    assert.equal(cache.getCached(service.name), cached, "the same array, no allocation");
    assert.ok(Object.isFrozen(cached) && Object.isFrozen(cached?.[0].nodes[0]), "shared data is frozen");
  });

  it("applies watch events to the cached entry", TEST, async () => {
    const { probe, cache } = setup();
    const name = unique("events");
    await probe.register(makeService(name, "1.0.0", ["a"]));
    await cache.getService(name);

    await probe.register(makeService(name, "1.0.0", ["b"]));
    await probe.register(makeService(name, "2.0.0", ["c"]));
    await eventually(() => assert.deepEqual(ids(cache.getCached(name)), [`${name}-a`, `${name}-b`, `${name}-c`]));

    await probe.deregister(makeService(name, "2.0.0", ["c"]));
    await probe.deregister(makeService(name, "1.0.0", ["a"]));
    await eventually(() => assert.deepEqual(ids(cache.getCached(name)), [`${name}-b`]));
    assert.deepEqual(
      cache.getCached(name)?.map((s) => s.version),
      ["1.0.0"],
      "the empty version is dropped",
    );
    assert.equal(probe.getServiceCalls, 1);
  });

  it("caches an unknown service and picks it up when it appears", TEST, async () => {
    const { probe, cache } = setup();
    const service = makeService(unique("later"), "1.0.0", ["a"]);
    assert.deepEqual(await cache.getService(service.name), []);
    assert.deepEqual(cache.getCached(service.name), []);
    await probe.register(service);
    await eventually(() => assert.deepEqual(cache.getCached(service.name), [service]));
    assert.equal(probe.getServiceCalls, 1);
  });

  it("shares one lookup among concurrent misses", TEST, async () => {
    const { probe, cache } = setup();
    const service = makeService(unique("flight"), "1.0.0", ["a"]);
    await probe.register(service);
    let open!: () => void;
    probe.gate = new Promise((resolve) => (open = resolve));

    const lookups = Array.from({ length: 10 }, () => cache.getService(service.name));
    await sleep(20);
    open();
    const results = await Promise.all(lookups);
    assert.equal(probe.getServiceCalls, 1);
    for (const result of results) assert.deepEqual(result, [service]);
    assert.notEqual(results[0], results[1], "each caller gets its own copy");
  });

  it("keeps events that arrive while the first lookup is in flight", TEST, async () => {
    const { probe, cache } = setup();
    const name = unique("race");
    await probe.register(makeService(name, "1.0.0", ["a"]));
    let open!: () => void;
    probe.gate = new Promise((resolve) => (open = resolve));
    const lookup = cache.getService(name);
    await sleep(10);
    await probe.register(makeService(name, "1.0.0", ["b"])); // after the watch started, before the fetch
    open();
    await lookup;
    await eventually(() => assert.deepEqual(ids(cache.getCached(name)), [`${name}-a`, `${name}-b`]));
  });

  it("serves stale data when the registry fails, warning once", TEST, async () => {
    const log = new CapturingLogger();
    const previous = logger();
    setLogger(log);
    cleanups.push(() => setLogger(previous));
    const { probe, cache } = setup({ ttl: 100, retryInterval: 50, maxBackoff: 200 });
    const service = makeService(unique("stale"), "1.0.0", ["a"]);
    await probe.register(service);
    await cache.getService(service.name);

    probe.failing = true;
    probe.breakWatches();
    await eventually(() => assert.equal(cache.getCached(service.name), undefined)); // the TTL ran out
    assert.deepEqual(await cache.getService(service.name), [service]);
    await sleep(100); // past the retry interval: the next lookup tries the registry again
    assert.deepEqual(await cache.getService(service.name), [service]);
    assert.ok(probe.getServiceCalls >= 3);
    assert.equal(log.warnings.length, 1);
    assert.equal(log.warnings[0].fields?.service, service.name);
  });

  it("doubts one empty answer for a service whose nodes it knows, and believes a second", TEST, async () => {
    const { probe, cache } = setup({ ttl: 100, retryInterval: 50, maxBackoff: 200 });
    const service = makeService(unique("empty"), "1.0.0", ["a"]);
    await probe.register(service);
    await cache.getService(service.name);

    probe.answeringEmpty = true; // the registry came back, the node has not announced itself yet
    const calls = probe.getServiceCalls;
    probe.breakWatches(); // the cache watches again and asks again
    await eventually(() => assert.ok(probe.getServiceCalls > calls));
    assert.deepEqual(ids(await cache.getService(service.name)), [`${service.name}-a`], "the first empty answer is not believed");
    await sleep(100); // past the retry interval: the next lookup asks again
    assert.deepEqual(await cache.getService(service.name), [], "the same answer twice is believed");
    probe.answeringEmpty = false;
  });

  it("restarts a broken watch and resynchronises", TEST, async () => {
    const { probe, cache } = setup({ maxBackoff: 200 });
    const name = unique("restart");
    await probe.register(makeService(name, "1.0.0", ["a"]));
    await cache.getService(name);

    probe.breakWatches();
    await probe.register(makeService(name, "1.0.0", ["b"])); // missed: nobody is watching
    await eventually(() => assert.deepEqual(ids(cache.getCached(name)), [`${name}-a`, `${name}-b`]));
    assert.equal(probe.watchCalls, 2);
    await probe.register(makeService(name, "1.0.0", ["c"])); // seen by the new watch
    await eventually(() => assert.deepEqual(ids(cache.getCached(name)), [`${name}-a`, `${name}-b`, `${name}-c`]));
  });

  it("fails a first lookup that fails, and retries on the next", TEST, async () => {
    const { probe, cache } = setup();
    const service = makeService(unique("first"), "1.0.0", ["a"]);
    await probe.register(service);
    probe.failing = true;
    await assert.rejects(cache.getService(service.name), /unreachable/);
    probe.failing = false;
    assert.deepEqual(await cache.getService(service.name), [service]);
  });

  it("reads its own writes", TEST, async () => {
    const { cache } = setup();
    const service = makeService(unique("own"), "1.0.0", ["a"]);
    assert.deepEqual(await cache.getService(service.name), []);
    await cache.register(service);
    assert.deepEqual(cache.getCached(service.name), [service]);
    await cache.deregister(service);
    assert.deepEqual(cache.getCached(service.name), []);
  });

  it("closes the wrapped registry only when asked to", TEST, async () => {
    class CountingClose extends MemoryRegistry {
      closed = 0;
      override async close(): Promise<void> {
        this.closed++;
        await super.close();
      }
    }
    const inner = new CountingClose();
    await new CacheRegistry(inner).close();
    assert.equal(inner.closed, 0);
    await new CacheRegistry(inner, { closeInner: true }).close();
    assert.equal(inner.closed, 1);
  });
});
