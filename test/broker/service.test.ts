/**
 * Pub/sub as a service sees it: service.subscribe() with typed payloads and wrappers,
 * client.publish() with metadata, the registry record, failure handling and the lifecycle.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { HttpBroker } from "../../src/broker/http.js";
import { MemoryBroker } from "../../src/broker/memory.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import type { MessageContext, SubscriberWrapper } from "../../src/server/subscriber.js";
import { createClient } from "../../src/service/create-client.js";
import { createService, type Service } from "../../src/service/service.js";
import { MemoryTransport } from "../../src/transport/memory.js";
import { quiet } from "../setup/logger.js";
import { until } from "../setup/wait.js";

interface UserCreated {
  id: number;
  name: string;
}

describe("service.subscribe and client.publish", () => {
  const registry = new MemoryRegistry();
  const broker = new MemoryBroker({ redeliveryDelay: 10, logger: quiet });
  const services: Service[] = [];
  const service = (name: string, extra: Parameters<typeof createService>[0] = {}): Service => {
    const s = createService({ name, registry, broker, transport: new MemoryTransport(), logger: quiet, ...extra });
    services.push(s);
    return s;
  };
  after(async () => {
    for (const s of services) await s.stop();
    await registry.close();
  });

  it("decodes the payload by Content-Type and passes metadata, topic and id; wrappers run outermost first", async () => {
    const calls: string[] = [];
    const wrap =
      (label: string): SubscriberWrapper =>
      (next) =>
      async (message, ctx) => {
        calls.push(`${label}:${message.topic}`);
        return next(message, ctx);
      };
    const got: Array<{ user: UserCreated; ctx: MessageContext }> = [];
    const users = service("users", { wrapSubscriber: [wrap("outer"), wrap("inner")] });
    users.subscribe<UserCreated>("user.created", (user, ctx) => void got.push({ user, ctx }), { wrappers: [wrap("own")] });
    await users.start();
    const publisher = service("publisher");
    await publisher.start();
    await publisher.client.publish<UserCreated>("user.created", { id: 7, name: "Ada" }, { metadata: { "Trace-Id": "t-1" } });
    await until(
      () => got.length === 1,
      5_000,
      () => "no message",
    );
    const [{ user, ctx }] = got;
    assert.deepEqual(user, { id: 7, name: "Ada" });
    assert.equal(ctx.topic, "user.created");
    assert.equal(ctx.metadata.get("trace-id"), "t-1");
    assert.equal(ctx.contentType, "application/json");
    assert.match(ctx.id ?? "", /^[0-9a-f-]{36}$/);
    assert.equal(ctx.caller.service, "publisher");
    assert.deepEqual(calls, ["outer:user.created", "inner:user.created", "own:user.created"]);
  });

  it("publishes subscribers as endpoints in the registry, as Go Micro does", async () => {
    const s = service("catalog");
    s.subscribe("item.added", () => {}, { queue: "catalog" });
    await s.start();
    const [record] = await registry.getService("catalog");
    assert.deepEqual(record.endpoints, [
      { name: "Func", request: null, response: null, metadata: { topic: "item.added", subscriber: "true", queue: "catalog" } },
    ]);
    assert.equal(record.nodes[0].metadata?.broker, "memory");
  });

  it("gives each message to one service of a queue group", async () => {
    const got: Record<string, number[]> = { a: [], b: [] };
    for (const label of ["a", "b"] as const) {
      const s = service(`worker-${label}`);
      s.subscribe<{ n: number }>("jobs", ({ n }) => void got[label].push(n), { queue: "workers" });
      await s.start();
    }
    const client = createClient({ registry, broker, transport: new MemoryTransport(), logger: quiet });
    for (let n = 0; n < 100; n++) await client.publish("jobs", { n });
    await until(
      () => got.a.length + got.b.length === 100,
      5_000,
      () => `${got.a.length} + ${got.b.length}`,
    );
    assert.deepEqual(
      [...got.a, ...got.b].sort((x, y) => x - y),
      Array.from({ length: 100 }, (_, i) => i),
    );
    client.close();
  });

  it("drops an undecodable body with a log line, redelivers after a throwing handler, and keeps serving", async () => {
    const seen: unknown[] = [];
    let attempts = 0;
    const s = service("robust");
    s.subscribe<{ n: number }>("robust.topic", ({ n }) => {
      if (n === 1 && attempts++ === 0) throw new Error("transient failure (expected in this test)");
      seen.push(n);
    });
    await s.start();
    await broker.publish("robust.topic", { header: { "Content-Type": "application/json" }, body: Buffer.from("{not json") });
    await broker.publish("robust.topic", { header: { "Content-Type": "application/x-unknown" }, body: Buffer.from("?") });
    const client = createClient({ registry, broker, transport: new MemoryTransport(), logger: quiet });
    await client.publish("robust.topic", { n: 1 });
    await client.publish("robust.topic", { n: 2 });
    await until(
      () => seen.includes(1) && seen.includes(2),
      5_000,
      () => `seen ${JSON.stringify(seen)}`,
    );
    assert.equal(attempts, 2, "message 1 failed once and was handled on redelivery");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(seen.length, 2, "the bad bodies never reached the handler and were not redelivered");
    client.close();
  });

  it("passes metadata on from the context a subscriber publishes with, and binary payloads through", async () => {
    const got: Array<{ body: Uint8Array; trace?: string; contentType: string }> = [];
    const relay = service("relay");
    relay.subscribe<{ n: number }>("relay.in", async (_payload, ctx) => relay.client.publish("relay.out", Buffer.from([1, 2, 3]), { ctx }));
    relay.subscribe<Uint8Array>("relay.out", (body, ctx) => void got.push({ body, trace: ctx.metadata.get("Trace-Id"), contentType: ctx.contentType }));
    await relay.start();
    await relay.client.publish("relay.in", { n: 1 }, { metadata: { "Trace-Id": "abc" } });
    await until(
      () => got.length === 1,
      5_000,
      () => "nothing relayed",
    );
    assert.deepEqual([...got[0].body], [1, 2, 3]);
    assert.equal(got[0].trace, "abc");
    assert.equal(got[0].contentType, "application/octet-stream");
  });

  it("unsubscribes on stop, after deregistering", async () => {
    const seen: number[] = [];
    const s = service("stopping");
    s.subscribe<{ n: number }>("stopping.topic", ({ n }) => void seen.push(n));
    await s.start();
    await s.client.publish("stopping.topic", { n: 1 });
    await until(
      () => seen.length === 1,
      5_000,
      () => "no message",
    );
    await s.stop();
    assert.deepEqual(await registry.getService("stopping"), []);
    await broker.publish("stopping.topic", { header: { "Content-Type": "application/json" }, body: Buffer.from('{"n":2}') });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seen, [1]);
  });

  it("refuses subscribe() after start", async () => {
    const s = service("late");
    await s.start();
    assert.throws(() => s.subscribe("x", () => {}), /before the service starts/);
  });
});

describe("the default http broker, end to end in one process", () => {
  it("delivers from a client to a service through the registry, and the service's node says broker=http", async () => {
    const registry = new MemoryRegistry();
    const got: Array<{ n: number }> = [];
    const s = createService({ name: "http-sub", registry, transport: new MemoryTransport(), logger: quiet });
    s.subscribe<{ n: number }>("http.topic", (m) => void got.push(m));
    assert.ok(s.broker instanceof HttpBroker, "http is the default broker");
    await s.start();
    const client = createClient({ registry, transport: new MemoryTransport(), logger: quiet });
    const deadline = Date.now() + 5_000;
    while (got.length === 0 && Date.now() < deadline) {
      await client.publish("http.topic", { n: 1 });
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(got[0], { n: 1 });
    const [record] = await registry.getService("http-sub");
    assert.equal(record.nodes[0].metadata?.broker, "http");
    await s.stop();
    client.close();
    await registry.close();
  });

  it("opens no broker port in a service without subscribers, which still publishes; one with a subscriber opens it at start", async () => {
    const registry = new MemoryRegistry();
    const got: Array<{ n: number }> = [];
    const subscriber = createService({ name: "http-port-sub", registry, transport: new MemoryTransport(), logger: quiet });
    subscriber.subscribe<{ n: number }>("http.port.topic", (m) => void got.push(m));
    const publisher = createService({ name: "http-port-pub", registry, transport: new MemoryTransport(), logger: quiet });
    await subscriber.start();
    await publisher.start();
    try {
      assert.match(subscriber.broker.address, /:\d+$/, "the subscriber's broker listens");
      assert.equal(publisher.broker.address, "", "the publisher's broker has no port");
      await publisher.client.publish("http.port.topic", { n: 7 });
      assert.deepEqual(got, [{ n: 7 }]);
      assert.equal(publisher.broker.address, "", "publishing opens no port either");
    } finally {
      await publisher.stop();
      await subscriber.stop();
      await registry.close();
    }
  });
});
