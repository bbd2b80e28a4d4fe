/**
 * A service started while its registry is down, for the nats and etcd registries, each against a
 * private server this test starts late (a nats-server on 4334, an etcd on 23796):
 * - start() keeps retrying registration with backoff, logging every failed attempt with its error,
 *   and resolves once the registry is back; then a client that finds the service through the
 *   registry calls it;
 * - stop() during those retries ends start() and closes the listener.
 * A registration that can never succeed (a name too long for mDNS) fails start() at once.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import { MemoryBroker } from "../../src/broker/memory.js";
import { Client } from "../../src/client/client.js";
import type { LogFields, Logger } from "../../src/logger/logger.js";
import { EtcdRegistry } from "../../src/registry/etcd.js";
import { MdnsRegistry } from "../../src/registry/mdns.js";
import { NatsRegistry } from "../../src/registry/nats.js";
import type { Registry } from "../../src/registry/registry.js";
import { Selector } from "../../src/selector/selector.js";
import { createService, type Service } from "../../src/service/service.js";
import { MuxTransport } from "../../src/transport/mux/mux.js";
import { type OwnedServer, privateEtcd, privateNats } from "../setup/servers.js";

interface Setup {
  name: string;
  server: () => OwnedServer;
  registry: (address: string, log: Logger) => Registry;
}

const setups: Setup[] = [
  { name: "nats", server: () => privateNats(4334), registry: (address, logger) => new NatsRegistry({ servers: address, connectTimeout: 500, logger }) },
  { name: "etcd", server: () => privateEtcd(23796), registry: (address, logger) => new EtcdRegistry({ hosts: address, timeout: 500, logger }) },
];

class Echo {
  async Hello(request: { name: string }): Promise<{ greeting: string }> {
    return { greeting: `hello ${request.name}` };
  }
}

/** Keeps what a service logs, to check that every failed attempt was reported. */
class CapturingLogger implements Logger {
  readonly lines: Array<{ level: string; msg: string; fields?: LogFields }> = [];
  debug(msg: string, fields?: LogFields): void {
    this.lines.push({ level: "debug", msg, fields });
  }
  info(msg: string, fields?: LogFields): void {
    this.lines.push({ level: "info", msg, fields });
  }
  warn(msg: string, fields?: LogFields): void {
    this.lines.push({ level: "warn", msg, fields });
  }
  error(msg: string, fields?: LogFields): void {
    this.lines.push({ level: "error", msg, fields });
  }
  child(): Logger {
    return this;
  }
  retries(): Array<LogFields | undefined> {
    return this.lines.filter((line) => line.msg === "registration failed, retrying").map((line) => line.fields);
  }
}

function newService(name: string, registry: Registry, log: Logger): Service {
  return createService({
    name,
    address: "127.0.0.1:0",
    registry,
    transport: new MuxTransport(),
    broker: new MemoryBroker(),
    logger: log,
    registerTtl: 10_000,
    registerInterval: 2_000,
    registerRetry: { initialDelay: 50, maxDelay: 400 },
  }).handle(new Echo());
}

for (const setup of setups) {
  describe(`start during a registry outage: ${setup.name}`, { timeout: 60_000 }, () => {
    const server = setup.server();
    const address = `127.0.0.1:${server.port}`;
    after(() => server.dispose());

    it("retries registration with backoff, logged, and registers once the registry is back; a call then succeeds", async () => {
      const log = new CapturingLogger();
      const serviceRegistry = setup.registry(address, log);
      const service = newService(`outage-start-${setup.name}`, serviceRegistry, log);
      let startError: unknown;
      let startedAt = 0;
      const starting = service.start().then(
        () => (startedAt = Date.now()),
        (err: unknown) => (startError = err),
      );
      await until(() => log.retries().length >= 3 || startError !== undefined, 20_000);
      assert.equal(startError, undefined, `start() gave up while the registry was down: ${String(startError)}`);
      const retries = log.retries();
      assert.ok(retries.length >= 3, `failed attempts logged (${retries.length})`);
      for (const fields of retries)
        assert.ok(typeof fields?.err === "string" && fields.err.length > 0, `each retry is logged with its error: ${JSON.stringify(fields)}`);
      const delays = retries.map((fields) => Number(fields?.retryIn));
      assert.ok(delays[1] > delays[0] && delays.every((d) => d <= 400), `backoff grows up to its maximum: ${delays}`);

      await server.start();
      const backAt = Date.now();
      await starting;
      assert.equal(startError, undefined, `start() failed: ${String(startError)}`);
      const registeredAfter = startedAt - backAt;

      const registry = setup.registry(address, log);
      const client = new Client({ registry, transport: new MuxTransport(), selector: new Selector(), logger: log, timeout: 5_000 });
      try {
        const nodes = (await registry.getService(service.name)).flatMap((s) => s.nodes.map((n) => n.id));
        assert.deepEqual(nodes, [service.id], "the service is in the registry");
        const reply = await client.call<{ greeting: string }>(service.name, "Echo.Hello", { name: "outage" });
        assert.equal(reply.greeting, "hello outage");
      } finally {
        client.close();
        await registry.close();
        await service.stop();
        await serviceRegistry.close(); // a registry passed in is the caller's to close
      }
      console.log(`${setup.name}: registered ${registeredAfter} ms after the registry came back, after ${retries.length}+ failed attempts`);
      await server.stop();
    });

    it("stop() during the retries ends start() and closes the listener", async () => {
      const log = new CapturingLogger();
      const serviceRegistry = setup.registry(address, log);
      after(() => serviceRegistry.close());
      const service = newService(`outage-stop-${setup.name}`, serviceRegistry, log);
      let startError: unknown;
      const starting = service.start().catch((err: unknown) => (startError = err));
      await until(() => log.retries().length >= 2 || startError !== undefined, 20_000);
      assert.equal(startError, undefined, `start() gave up while the registry was down: ${String(startError)}`);
      const listening = service.address!;
      assert.ok(await canConnect(listening), "the service listens while it waits for the registry");
      await service.stop();
      await starting;
      assert.equal(startError, undefined, "start() ends without an error when stopped");
      const attempts = log.retries().length;
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(log.retries().length, attempts, "no registration attempt after stop()");
      assert.equal(await canConnect(listening), false, "the listener is closed");
      assert.ok(
        log.lines.some((line) => line.msg === "service stopped"),
        "the service logged its stop",
      );
    });
  });
}

describe("start with a registration no registry would accept", () => {
  it("fails start() at once instead of retrying, and stop() then closes the listener", async () => {
    const log = new CapturingLogger();
    // mDNS checks the name before it opens a socket, so nothing is multicast.
    const service = newService("a-service-name-far-too-long-for-one-dns-label", new MdnsRegistry({ logger: log }), log);
    await assert.rejects(service.start(), /too long for DNS/);
    assert.equal(log.retries().length, 0, "no retry");
    assert.ok(
      log.lines.some((line) => line.level === "error" && line.msg === "registration failed"),
      "the failure is logged as an error",
    );
    const listening = service.address!;
    await service.stop();
    assert.equal(await canConnect(listening), false, "the listener is closed");
  });
});

async function until(condition: () => boolean, timeout: number): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

function canConnect(address: string): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
