/**
 * A failing subscriber on the default HTTP broker: the message is handled again with backoff up to
 * the maximum number of attempts, then published to the dead-letter topic with headers saying
 * where it came from and why; the publisher's publish() resolves, and the subscriber keeps serving.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { BrokerEvent } from "../../src/broker/broker.js";
import { HttpBroker } from "../../src/broker/http.js";
import { createLogger } from "../../src/logger/logger.js";
import { MicroHeader } from "../../src/metadata/headers.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { createService } from "../../src/service/service.js";
import { LogRecorder } from "../setup/logger.js";
import { until } from "../setup/wait.js";

describe("http broker: backoff, a maximum of attempts, then the dead-letter topic", () => {
  const registry = new MemoryRegistry();
  const quiet = createLogger({ level: "fatal" });
  const brokers: HttpBroker[] = [];
  const broker = (options: Partial<ConstructorParameters<typeof HttpBroker>[0]> = {}): HttpBroker => {
    const b = new HttpBroker({ registry, logger: quiet, ...options });
    brokers.push(b);
    return b;
  };
  const log = new LogRecorder();
  const service = createService({
    name: "orders-worker",
    registry,
    broker: broker({ redelivery: { attempts: 3, backoff: 20 }, logger: log }),
    address: "127.0.0.1:0",
    logger: log,
  });
  after(async () => {
    await service.stop();
    for (const b of brokers) await b.disconnect().catch(() => {});
    await registry.close();
  });

  it("dead-letters a message after the last attempt, and handles the next one", async () => {
    const attempts: Record<string, number> = {};
    service.subscribe<{ id: string }>("orders.created", async (order) => {
      attempts[order.id] = (attempts[order.id] ?? 0) + 1;
      if (order.id === "poison") throw new Error(`cannot ship order ${order.id}`);
    });
    await service.start();
    const dead: BrokerEvent[] = [];
    await broker().subscribe("orders.created.dlq", (event) => void dead.push(event));
    const publisher = broker();
    const publish = (id: string) =>
      publisher.publish("orders.created", { header: { "Content-Type": "application/json", "Micro-Id": id }, body: Buffer.from(JSON.stringify({ id })) });
    await publish("poison");
    assert.equal(attempts.poison, 3, "handled 3 times in all (redelivery.attempts)");
    await until(() => dead.length === 1, 5_000, "the message reached the dead-letter topic");
    const header = dead[0].message.header;
    assert.equal(header[MicroHeader.DeadLetterTopic], "orders.created");
    assert.equal(header[MicroHeader.DeadLetterAttempts], "3");
    assert.match(header[MicroHeader.DeadLetterReason], /cannot ship order poison/);
    assert.equal(header["Micro-Id"], "poison", "the original headers travel with it");
    assert.deepEqual(JSON.parse(Buffer.from(dead[0].message.body).toString()), { id: "poison" }, "and the original body");
    const stacks = log.lines.filter((l) => typeof l.fields.err === "string" && /\n\s+at /.test(l.fields.err));
    assert.equal(stacks.length, 1, `one stack trace for the three failures: ${JSON.stringify(log.lines.map((l) => l.msg))}`);
    assert.equal(log.lines.filter((l) => /failed again/.test(l.msg)).length, 2, "the next failures in one line each");
    assert.equal(log.lines.filter((l) => /dead-lettered/.test(l.msg)).length, 1, "and the dead-lettering once");
    await publish("good");
    assert.equal(attempts.good, 1, "the next message is handled once");
    assert.equal(dead.length, 1, "and not dead-lettered");
  });
});
