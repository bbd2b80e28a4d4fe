/**
 * Debug.Health, Debug.Stats, health checks and the probe port, in one process.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProcessMonitor } from "../../src/debug/stats.js";
import { createClient, createService, type HealthResponse, MicroError, type Service, type StatsResponse } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import type { ServiceRecord } from "../../src/registry/registry.js";
import { quiet } from "../setup/logger.js";
import { freePort } from "../setup/servers.js";
import { until, waitFor } from "../setup/wait.js";

class Ping {
  async Ping(): Promise<{ pong: true }> {
    return { pong: true };
  }
  async Fail(): Promise<never> {
    throw MicroError.badRequest("pinger", "no");
  }
}

async function started(registry: MemoryRegistry, options: { healthAddress?: string } = {}): Promise<Service> {
  const service = createService({ name: "pinger", registry, logger: quiet, ...options });
  service.handle(new Ping());
  await service.start();
  return service;
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown>; contentType: string | null }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, contentType: response.headers.get("content-type") };
}

describe("Debug handler", () => {
  it("answers Debug.Health with Go Micro's {status: ok} and is not published as an endpoint", async () => {
    const registry = new MemoryRegistry();
    const service = await started(registry);
    const client = createClient({ registry, logger: quiet });
    try {
      assert.deepEqual(await client.call("pinger", "Debug.Health", { service: "pinger" }), { status: "ok" });
      const [record] = await registry.getService("pinger");
      assert.deepEqual(
        record.endpoints?.map((e) => e.name),
        ["Ping.Fail", "Ping.Ping"],
      );
      const unknown = await client.call("pinger", "Ping.Nope", {}).catch((err: MicroError) => err);
      assert.ok(unknown instanceof MicroError && unknown.code === 404);
      assert.doesNotMatch(unknown.detail, /Debug/);
    } finally {
      await client.close();
      await service.stop();
      await registry.close();
    }
  });

  it("answers Debug.Stats with exactly Go Micro's fields, counting requests and errors", async () => {
    const registry = new MemoryRegistry();
    const before = Math.floor(Date.now() / 1000);
    const service = await started(registry);
    const client = createClient({ registry, logger: quiet });
    try {
      for (let i = 0; i < 3; i++) await client.call("pinger", "Ping.Ping", {});
      await assert.rejects(client.call("pinger", "Ping.Fail", {}), /no/);
      await assert.rejects(client.call("pinger", "Ping.Nope", {}), /unknown endpoint/);
      const stats = (await client.call("pinger", "Debug.Stats", {})) as StatsResponse;
      assert.deepEqual(Object.keys(stats).sort(), ["errors", "gc", "memory", "requests", "started", "threads", "timestamp", "uptime"]);
      // Three pings, two failures, and the Stats call itself (in flight while it is answered).
      assert.equal(stats.requests, 6);
      assert.equal(stats.errors, 2);
      assert.equal(stats.threads, 1);
      assert.ok(stats.started >= before && stats.started <= stats.timestamp, JSON.stringify(stats));
      assert.equal(stats.uptime, stats.timestamp - stats.started);
      assert.ok(stats.memory > 1024 * 1024, `RSS ${stats.memory}`);
      assert.ok(Number.isInteger(stats.gc) && stats.gc >= 0);
    } finally {
      await client.close();
      await service.stop();
      await registry.close();
    }
  });
});

describe("process monitor", () => {
  it("counts GC time from the first stats read on, and nothing once stopped", async () => {
    const monitor = new ProcessMonitor();
    const counts = { requests: 0, errors: 0, pending: 0 };
    const garbage = (): void => {
      for (let i = 0; i < 200; i++) new Array(100_000).fill(i); // young-generation collections
    };
    monitor.start();
    garbage();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(monitor.stats(counts).gc, 0, "collections before the first read are not watched");
    await until(
      () => {
        garbage();
        return monitor.stats(counts).gc > 0;
      },
      3_000,
      "GC time counted after the first read",
    );
    monitor.stop();
    const stopped = monitor.stats(counts).gc;
    garbage();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(monitor.stats(counts).gc, stopped);
  });
});

describe("health checks", () => {
  it("is down only when a critical check fails, and reports every check to a caller that asks", async () => {
    const registry = new MemoryRegistry();
    const service = await started(registry);
    const client = createClient({ registry, logger: quiet });
    let databaseUp = true;
    service.health.check("database", () => {
      if (!databaseUp) throw new Error("connection refused");
    });
    service.health.check("cache", async () => Promise.reject(new Error("cache cold")), { critical: false });
    try {
      assert.deepEqual(await client.call("pinger", "Debug.Health", {}), { status: "ok" });
      const detailed = (await client.call("pinger", "Debug.Health", { checks: true })) as HealthResponse;
      assert.equal(detailed.status, "ok");
      assert.deepEqual(
        detailed.checks?.map(({ name, status, error, critical }) => ({ name, status, error, critical })),
        [
          { name: "database", status: "up", error: undefined, critical: true },
          { name: "cache", status: "down", error: "cache cold", critical: false },
        ],
      );
      databaseUp = false;
      assert.deepEqual(await client.call("pinger", "Debug.Health", {}), { status: "down" });
      const down = (await client.call("pinger", "Debug.Health", { checks: true })) as HealthResponse;
      assert.equal(down.checks?.find((c) => c.name === "database")?.error, "connection refused");
    } finally {
      await client.close();
      await service.stop();
      await registry.close();
    }
  });

  it("fails a check that outlives its timeout, and aborts its signal", async () => {
    const service = createService({ name: "slow", registry: new MemoryRegistry(), logger: quiet });
    let aborted = false;
    service.health.check(
      "hangs",
      (signal) =>
        new Promise((resolve) =>
          signal.addEventListener("abort", () => {
            aborted = true;
            resolve(undefined);
          }),
        ),
      { timeout: 50 },
    );
    const report = await service.health.run();
    assert.equal(report.status, "down");
    assert.equal(report.checks?.[0]?.error, "timed out after 50 ms");
    assert.ok(aborted);
    assert.throws(() => service.health.check("bad", () => {}, { timeout: 0 }), RangeError);
  });
});

/** A registry that refuses registration until told otherwise: a service stuck before ready. */
class GatedRegistry extends MemoryRegistry {
  open = false;
  override async register(record: ServiceRecord, options?: { ttl?: number }): Promise<void> {
    if (!this.open) throw new Error("registry unavailable");
    return super.register(record, options);
  }
}

describe("probe port", () => {
  it("serves /health, /health/live and /health/ready in Go Micro's JSON, 503 when a critical check fails", async () => {
    const registry = new MemoryRegistry();
    const port = await freePort();
    const service = createService({ name: "pinger", registry, logger: quiet, healthAddress: `127.0.0.1:${port}` });
    let healthy = true;
    service.health.check("dependency", () => {
      if (!healthy) throw new Error("unreachable");
    });
    await service.start();
    try {
      assert.equal(service.healthAddress, `127.0.0.1:${port}`);
      const base = `http://127.0.0.1:${port}`;
      assert.deepEqual((await getJson(`${base}/health/live`)).body, { status: "up" });
      const health = await getJson(`${base}/health`);
      assert.equal(health.status, 200);
      assert.equal(health.contentType, "application/json");
      assert.equal(health.body.status, "up");
      const info = health.body.info as Record<string, string>;
      assert.equal(info.service, "pinger");
      assert.equal(info.node_version, process.version);
      assert.ok(Number(info.heap_used) > 0 && Number(info.heap_total) >= Number(info.heap_used), JSON.stringify(info));
      assert.ok(Number.isInteger(Number(info.event_loop_delay_ns)), JSON.stringify(info));
      const ready = await getJson(`${base}/health/ready`);
      assert.equal(ready.status, 200);
      assert.deepEqual(
        (ready.body.checks as { name: string; status: string }[]).map((c) => [c.name, c.status]),
        [
          ["dependency", "up"],
          ["registered", "up"],
        ],
      );
      healthy = false;
      const down = await getJson(`${base}/health`);
      assert.equal(down.status, 503);
      assert.equal(down.body.status, "down");
      assert.equal((down.body.checks as { error?: string }[])[0]?.error, "unreachable");
      assert.equal((await getJson(`${base}/health/ready`)).status, 503);
      assert.equal((await getJson(`${base}/health/live`)).status, 200);
      assert.equal((await fetch(`${base}/metrics`)).status, 404);
    } finally {
      await service.stop();
      await registry.close();
    }
    await assert.rejects(fetch(`http://127.0.0.1:${port}/health/live`), "the probe port closes with the service");
  });

  it("is live but not ready while the service waits for the registry", async () => {
    const registry = new GatedRegistry();
    const port = await freePort();
    const service = createService({
      name: "waiting",
      registry,
      logger: quiet,
      healthAddress: `127.0.0.1:${port}`,
      registerRetry: { initialDelay: 20, maxDelay: 20 },
    });
    const starting = service.start();
    const base = `http://127.0.0.1:${port}`;
    try {
      assert.ok(await waitFor(async () => (await fetch(`${base}/health/live`).catch(() => undefined))?.status === 200, 5_000));
      const notReady = await getJson(`${base}/health/ready`);
      assert.equal(notReady.status, 503);
      assert.deepEqual(notReady.body.checks, [
        { name: "registered", status: "down", error: "not registered (starting or stopping)", duration: 0, critical: true },
      ]);
      registry.open = true;
      await starting;
      assert.equal((await getJson(`${base}/health/ready`)).status, 200);
    } finally {
      await service.stop();
      await registry.close();
    }
  });

  it("takes its address from MICRO_HEALTH_ADDRESS, and refuses one that is not host:port", async () => {
    const port = await freePort();
    process.env.MICRO_HEALTH_ADDRESS = `127.0.0.1:${port}`;
    const registry = new MemoryRegistry();
    let service: Service;
    try {
      service = createService({ name: "from-env", registry, logger: quiet });
    } finally {
      delete process.env.MICRO_HEALTH_ADDRESS;
    }
    await service.start();
    try {
      assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
    } finally {
      await service.stop();
    }
    assert.throws(() => createService({ name: "bad", registry, logger: quiet, healthAddress: "localhost" }), /health address "localhost" is not host:port/);
    assert.throws(() => createService({ name: "bad", registry, logger: quiet, healthAddress: ":99999" }), /is not host:port/);
    await registry.close();
  });
});
