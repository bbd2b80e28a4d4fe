/**
 * The events Stream conformance suite: every durable stream runs it. All waits are bounded.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Event, Stream } from "../../src/events/events.js";
import { until } from "../setup/wait.js";

export interface EventsHarness {
  create(): Stream;
  preflight?: () => Promise<void>;
  cleanup?: (topics: string[]) => Promise<void>;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

export function eventsConformance(name: string, harness: EventsHarness): void {
  describe(`events conformance: ${name}`, () => {
    const streams: Stream[] = [];
    const topics: string[] = [];
    const stream = (): Stream => {
      const s = harness.create();
      streams.push(s);
      return s;
    };
    const topic = (what: string): string => {
      const t = `events-${name}-${what}-${randomUUID().slice(0, 8)}`;
      topics.push(t);
      return t;
    };
    before(async () => harness.preflight?.());
    after(async () => {
      for (const s of streams) await s.close().catch(() => {});
      await harness.cleanup?.(topics);
    });

    it("keeps 1,000 events published with no consumer, and a new group receives them all", async () => {
      const t = topic("backlog");
      const publisher = stream();
      for (let n = 0; n < 1_000; n++) await publisher.publish(t, { n }, { metadata: { source: "test" } });
      const got: Event<{ n: number }>[] = [];
      await stream().consume<{ n: number }>(t, (e) => void got.push(e), { group: "late" });
      await until(
        () => got.length >= 1_000,
        30_000,
        () => `got ${got.length}/1000`,
      );
      assert.deepEqual(
        got.map((e) => e.json().n).sort((a, b) => a - b),
        range(0, 1_000),
      );
      assert.equal(got[0].metadata.source, "test");
      assert.equal(got[0].topic, t);
      assert.ok(got[0].timestamp instanceof Date && !Number.isNaN(got[0].timestamp.getTime()));
      assert.deepEqual(
        got.map((e) => e.sequence),
        range(1, 1_001),
        "in order, one consumer",
      );
    });

    it("lists the topics it keeps, with the count and the newest event's sequence and time", async () => {
      const t = topic("listed");
      const s = stream();
      const before = Date.now() - 1_000;
      for (let n = 0; n < 3; n++) await s.publish(t, { n });
      const listed = (await s.topics?.())?.find((info) => info.topic === t);
      assert.ok(listed, `${t} is not listed`);
      assert.equal(listed.events, 3);
      assert.equal(listed.lastSequence, 3);
      assert.ok(listed.lastTimestamp && listed.lastTimestamp.getTime() >= before, `lastTimestamp ${listed.lastTimestamp?.toISOString()}`);
    });

    it("shares a group's events among its consumers, and gives every group all of them", async () => {
      const t = topic("groups");
      const s = stream();
      const shared: Record<string, number[]> = { a: [], b: [] };
      const other: number[] = [];
      await s.consume<{ n: number }>(t, (e) => void shared.a.push(e.json().n), { group: "workers" });
      await stream().consume<{ n: number }>(t, (e) => void shared.b.push(e.json().n), { group: "workers" });
      await stream().consume<{ n: number }>(t, (e) => void other.push(e.json().n), { group: "audit" });
      for (let n = 0; n < 200; n++) await s.publish(t, { n });
      await until(
        () => shared.a.length + shared.b.length >= 200 && other.length >= 200,
        20_000,
        () => `workers ${shared.a.length}+${shared.b.length}, audit ${other.length}`,
      );
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(
        [...shared.a, ...shared.b].sort((x, y) => x - y),
        range(0, 200),
        "each event once within the group",
      );
      assert.deepEqual(
        other.sort((x, y) => x - y),
        range(0, 200),
      );
    });

    it("redelivers a nacked event, and one not acked within ackWait", async () => {
      const t = topic("redeliver");
      const s = stream();
      const deliveries: Array<{ n: number; attempt: number }> = [];
      await s.consume<{ n: number }>(
        t,
        async (e) => {
          const { n } = e.json();
          deliveries.push({ n, attempt: e.attempt });
          if (n === 0 && e.attempt === 1) return e.nack(); // explicit nack
          if (n === 1 && e.attempt === 1) return; // neither: comes back after ackWait
          return e.ack();
        },
        { group: "g", autoAck: false, ackWait: 1_000 },
      );
      for (let n = 0; n < 3; n++) await s.publish(t, { n });
      await until(
        () => deliveries.some((d) => d.n === 0 && d.attempt === 2) && deliveries.some((d) => d.n === 1 && d.attempt === 2),
        15_000,
        () => JSON.stringify(deliveries),
      );
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(deliveries.filter((d) => d.n === 2).length, 1, "an acked event is not delivered again");
      assert.equal(deliveries.filter((d) => d.n === 0).length, 2);
      assert.equal(deliveries.filter((d) => d.n === 1).length, 2);
    });

    it("redelivers after a throwing handler, and gives up after retryLimit redeliveries", async () => {
      const t = topic("retry");
      const s = stream();
      const attempts: number[] = [];
      const ok: number[] = [];
      await s.consume<{ n: number }>(
        t,
        (e) => {
          if (e.json().n === 0) {
            attempts.push(e.attempt);
            throw new Error("always fails (expected in this test)");
          }
          ok.push(e.json().n);
        },
        { group: "g", retryLimit: 2 },
      );
      await s.publish(t, { n: 0 });
      await s.publish(t, { n: 1 });
      await until(
        () => attempts.length >= 3 && ok.length === 1,
        15_000,
        () => `attempts ${attempts.join(",")}, ok ${ok.join(",")}`,
      );
      await new Promise((r) => setTimeout(r, 1_000));
      assert.deepEqual(attempts, [1, 2, 3], "one delivery and two retries, then no more");
    });

    it("replays from a sequence offset and from a time", async () => {
      const t = topic("offset");
      const s = stream();
      for (let n = 0; n < 5; n++) await s.publish(t, { n });
      await new Promise((r) => setTimeout(r, 50));
      const since = new Date();
      await new Promise((r) => setTimeout(r, 50));
      for (let n = 5; n < 8; n++) await s.publish(t, { n });
      const fromSeq: number[] = [];
      const fromTime: number[] = [];
      await stream().consume<{ n: number }>(t, (e) => void fromSeq.push(e.json().n), { group: "from-seq", offset: 3 });
      await stream().consume<{ n: number }>(t, (e) => void fromTime.push(e.json().n), { group: "from-time", offset: since });
      await until(
        () => fromSeq.length >= 6 && fromTime.length >= 3,
        10_000,
        () => `seq ${fromSeq.join(",")} time ${fromTime.join(",")}`,
      );
      assert.deepEqual(fromSeq, range(2, 8), "sequence 3 is the third event");
      assert.deepEqual(fromTime, [5, 6, 7]);
    });

    it("resumes a group where it left off, and starts a consumer without a group at new events", async () => {
      const t = topic("resume");
      const s = stream();
      for (let n = 0; n < 10; n++) await s.publish(t, { n });
      const first: number[] = [];
      const c = await stream().consume<{ n: number }>(t, (e) => void first.push(e.json().n), { group: "g" });
      await until(
        () => first.length >= 10,
        10_000,
        () => `first ${first.length}`,
      );
      await c.stop();
      const fresh: number[] = [];
      await stream().consume<{ n: number }>(t, (e) => void fresh.push(e.json().n));
      for (let n = 10; n < 15; n++) await s.publish(t, { n });
      const second: number[] = [];
      await stream().consume<{ n: number }>(t, (e) => void second.push(e.json().n), { group: "g" });
      await until(
        () => second.length >= 5 && fresh.length >= 5,
        10_000,
        () => `second ${second.join(",")} fresh ${fresh.join(",")}`,
      );
      assert.deepEqual(second, range(10, 15), "the group picks up after its last acked event");
      assert.deepEqual(fresh, range(10, 15), "no group: only events published after it started");
    });

    it("passes bytes through and keeps going after an event that is not JSON", async () => {
      const t = topic("bytes");
      const s = stream();
      const got: Array<{ raw: string; parsed?: unknown; error?: string }> = [];
      await s.consume(
        t,
        (e) => {
          const raw = Buffer.from(e.payload).toString();
          try {
            got.push({ raw, parsed: e.json() });
          } catch (err) {
            got.push({ raw, error: (err as Error).name });
          }
        },
        { group: "g" },
      );
      await s.publish(t, Buffer.from("not json"));
      await s.publish(t, { ok: true });
      await until(
        () => got.length >= 2,
        10_000,
        () => JSON.stringify(got),
      );
      assert.deepEqual(got, [
        { raw: "not json", error: "SyntaxError" },
        { raw: '{"ok":true}', parsed: { ok: true } },
      ]);
    });
  });
}
