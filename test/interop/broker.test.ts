/**
 * Pub/sub between Go Micro and ts-micro over Go Micro's HTTP broker (the default on both sides):
 * subscribers register as `micro.http.broker` in a shared registry (NATS), publishers POST the
 * JSON envelope to them. Broadcast (no queue: every subscriber gets every event) and queue
 * (version = queue name: each event goes to one member), both directions.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { createClient } from "../../src/index.js";
import { NatsRegistry } from "../../src/registry/nats.js";
import { fixture, type ServiceProcess, startProcess, stopAll, waitFor } from "../process/harness.js";
import { type GoProcess, runGo, startGo } from "./go.js";

const natsUrl = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const natsHostPort = natsUrl.replace(/^nats:\/\//, "");
// Loopback everywhere: what the brokers register is reachable on this host only.
const env = { MICRO_REGISTRY: "nats", MICRO_REGISTRY_ADDRESS: natsHostPort, MICRO_SERVER_ADDRESS: "127.0.0.1:0", MICRO_BROKER_ADDRESS: "127.0.0.1:0" };

interface Received {
  event: { id: number; text: string };
  topic: string;
}

/** The events a subscriber printed so far. */
function eventsOf(output: string): Received[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith('{"event"'))
    .map((line) => JSON.parse(line) as Received);
}

const ids = (events: Received[]): number[] => events.map((e) => e.event.id).sort((a, b) => a - b);

describe("pub/sub between Go Micro and ts-micro over the HTTP broker (shared NATS registry)", () => {
  const run = randomUUID().slice(0, 8);
  const registry = new NatsRegistry({ servers: natsUrl });
  const publisher = createClient({ registry });
  const tsSubscribers: ServiceProcess[] = [];
  const goSubscribers: GoProcess[] = [];

  before(() => {
    process.env.MICRO_BROKER_ADDRESS = "127.0.0.1:0";
  });
  after(async () => {
    publisher.close();
    await registry.close();
    stopAll(tsSubscribers);
    await Promise.all(goSubscribers.map((s) => s.stop()));
  });

  async function tsSubscriber(topic: string, queue?: string): Promise<ServiceProcess> {
    const p = await startProcess(fixture("../interop/ts-subscriber"), { ...env, INTEROP_TOPIC: topic, INTEROP_NAME: `ts-sub-${run}`, ...(queue ? { INTEROP_QUEUE: queue } : {}) });
    tsSubscribers.push(p);
    return p;
  }

  async function goSubscriber(topic: string, queue?: string): Promise<GoProcess> {
    const p = await startGo("subscriber", { ...env, INTEROP_TOPIC: topic, INTEROP_NAME: `go-sub-${run}`, ...(queue ? { INTEROP_QUEUE: queue } : {}) });
    goSubscribers.push(p);
    return p;
  }

  const goPublish = (topic: string, count: number): Promise<{ published?: number; error?: string }> =>
    runGo("publisher", { ...env, INTEROP_TOPIC: topic, INTEROP_COUNT: String(count) });

  async function tsPublish(topic: string, count: number): Promise<void> {
    for (let id = 0; id < count; id++) await publisher.publish(topic, { id, text: `from ts ${id}` });
  }

  it("Go Micro publishes, every ts-micro subscriber gets every event (broadcast)", async () => {
    const topic = `interop.broadcast.go.${run}`;
    const subs = [await tsSubscriber(topic), await tsSubscriber(topic)];
    assert.deepEqual(await goPublish(topic, 3), { published: 3 });
    for (const sub of subs) {
      assert.ok(await waitFor(() => eventsOf(sub.output()).length >= 3, 5_000), `got ${sub.output()}`);
      assert.deepEqual(ids(eventsOf(sub.output())), [0, 1, 2]);
      assert.equal(eventsOf(sub.output())[0].topic, topic);
      assert.match(eventsOf(sub.output())[0].event.text, /^from go /);
    }
  });

  it("Go Micro publishes to a queue, each event reaches one ts-micro subscriber", async () => {
    const topic = `interop.queue.go.${run}`;
    const subs = [await tsSubscriber(topic, "workers"), await tsSubscriber(topic, "workers")];
    assert.deepEqual(await goPublish(topic, 8), { published: 8 });
    const all = (): Received[] => subs.flatMap((s) => eventsOf(s.output()));
    assert.ok(await waitFor(() => all().length >= 8, 5_000), `got ${all().length} of 8`);
    await new Promise((r) => setTimeout(r, 200)); // a duplicate would show up by now
    assert.deepEqual(ids(all()), [0, 1, 2, 3, 4, 5, 6, 7], "each event exactly once across the queue");
  });

  it("ts-micro publishes, every Go Micro subscriber gets every event (broadcast)", async () => {
    const topic = `interop.broadcast.ts.${run}`;
    const subs = [await goSubscriber(topic), await goSubscriber(topic)];
    await tsPublish(topic, 3);
    for (const sub of subs) {
      assert.ok(await waitFor(() => eventsOf(sub.output()).length >= 3, 5_000), `got ${sub.output()}`);
      assert.deepEqual(ids(eventsOf(sub.output())), [0, 1, 2]);
      assert.equal(eventsOf(sub.output())[0].topic, topic);
    }
  });

  it("ts-micro publishes to a queue, each event reaches one Go Micro subscriber", async () => {
    const topic = `interop.queue.ts.${run}`;
    const subs = [await goSubscriber(topic, "workers"), await goSubscriber(topic, "workers")];
    await tsPublish(topic, 8);
    const all = (): Received[] => subs.flatMap((s) => eventsOf(s.output()));
    assert.ok(await waitFor(() => all().length >= 8, 5_000), `got ${all().length} of 8`);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(ids(all()), [0, 1, 2, 3, 4, 5, 6, 7], "each event exactly once across the queue");
  });
});
