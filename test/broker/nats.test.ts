import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { NatsBroker } from "../../src/broker/nats.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { createService, type Service } from "../../src/service/service.js";
import { MemoryTransport } from "../../src/transport/memory.js";
import { brokerConformance } from "../conformance/broker.js";
import { quiet } from "../setup/logger.js";
import { PrivateServer, requireServer, SERVERS } from "../setup/servers.js";

for (const format of ["go-micro", "raw"] as const) {
  brokerConformance(format === "raw" ? "nats-raw" : "nats", {
    create: () => new NatsBroker({ address: "127.0.0.1:4222", format }),
    ordered: true,
    redelivers: false,
    asciiHeaderNames: format === "raw",
    preflight: () => requireServer("NATS", SERVERS.nats.port, SERVERS.nats.start),
    restart: async () => {
      const server = await PrivateServer.create("nats");
      return {
        create: () => new NatsBroker({ address: server.address, format }),
        stop: () => server.stop(),
        start: () => server.start(),
        destroy: () => server.destroy(),
      };
    },
  });
}

async function until(check: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("nats broker, format raw: plain NATS clients on the other side", () => {
  const registry = new MemoryRegistry();
  after(() => registry.close());

  /**
   * Runs `test` with a started service on a raw-format NATS broker (`prepare` adds its
   * subscriptions first) and a plain NATS connection beside it; closes all three afterwards.
   */
  async function withRawService(
    name: string,
    prepare: (service: Service) => void,
    test: (service: Service, nc: NatsConnection) => Promise<void>,
  ): Promise<void> {
    await requireServer("NATS", SERVERS.nats.port, SERVERS.nats.start);
    const nc = await connect({ servers: "127.0.0.1:4222" });
    const broker = new NatsBroker({ format: "raw", logger: quiet });
    const service = createService({ name, registry, transport: new MemoryTransport(), broker, logger: quiet });
    prepare(service);
    await service.start();
    try {
      await test(service, nc);
    } finally {
      await nc.close();
      await service.stop();
      await broker.disconnect(); // given to the service, so still ours to close
    }
  }

  it("a plain NATS publish of JSON reaches service.subscribe, NATS headers as metadata", async () => {
    const topic = `raw.orders.${process.pid}`;
    const got: Array<{ order: { id: number }; topic: string; tenant?: string }> = [];
    const subscribe = (service: Service): void =>
      void service.subscribe<{ id: number }>(topic, (order, ctx) => void got.push({ order, topic: ctx.topic, tenant: ctx.metadata.get("Tenant") }));
    await withRawService("orders", subscribe, async (_service, nc) => {
      const h = headers();
      h.set("Tenant", "acme");
      nc.publish(topic, JSON.stringify({ id: 1 }));
      nc.publish(topic, JSON.stringify({ id: 2 }), { headers: h });
      await until(
        () => got.length === 2,
        () => `received ${JSON.stringify(got)}`,
      );
      assert.deepEqual(got, [
        { order: { id: 1 }, topic, tenant: undefined },
        { order: { id: 2 }, topic, tenant: "acme" },
      ]);
    });
  });

  it("client.publish sends the bare body a plain NATS subscriber can read, metadata as NATS headers", async () => {
    const topic = `raw.events.${process.pid}`;
    const seen: Array<{ data: string; tenant?: string; contentType?: string }> = [];
    await withRawService(
      "events",
      () => {},
      async (service, nc) => {
        nc.subscribe(topic, {
          callback: (_err, msg) =>
            void seen.push({ data: msg.string(), tenant: msg.headers?.get("Tenant") || undefined, contentType: msg.headers?.get("Content-Type") || undefined }),
        });
        await nc.flush();
        await service.client.publish(topic, { id: 3 });
        await service.client.publish(topic, { id: 4 }, { metadata: { Tenant: "acme" } });
        await service.client.publish(topic, "plain text", { contentType: "text/plain" });
        await until(
          () => seen.length === 3,
          () => `seen ${JSON.stringify(seen)}`,
        );
        assert.deepEqual(seen, [
          { data: '{"id":3}', tenant: undefined, contentType: undefined },
          { data: '{"id":4}', tenant: "acme", contentType: undefined },
          { data: "plain text", tenant: undefined, contentType: "text/plain" },
        ]);
      },
    );
  });

  it("refuses a header name NATS cannot carry, saying which, and keeps publishing", async () => {
    await requireServer("NATS", SERVERS.nats.port, SERVERS.nats.start);
    const broker = new NatsBroker({ format: "raw", logger: quiet });
    try {
      await assert.rejects(broker.publish("raw.bad", { header: { "X-Ünicode": "1" }, body: Buffer.from("{}") }), /"X-Ünicode" cannot be a NATS header name/);
      await broker.publish("raw.bad", { header: { "X-Fine": "värde ✓" }, body: Buffer.from("{}") });
    } finally {
      await broker.disconnect();
    }
  });

  it("refuses an unknown MICRO_BROKER_FORMAT", () => {
    process.env.MICRO_BROKER_FORMAT = "protobuf";
    try {
      assert.throws(() => new NatsBroker(), /MICRO_BROKER_FORMAT="protobuf": use go-micro \(the default\) or raw/);
    } finally {
      delete process.env.MICRO_BROKER_FORMAT;
    }
  });
});
