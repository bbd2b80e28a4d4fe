/**
 * The Broker conformance suite: every broker runs it. Each "process" of a test is a broker
 * instance of its own (its own connections), as separate services would have.
 *
 * Subscriptions can take a moment to become visible to other publishers (the http broker learns
 * about subscribers through the registry), so tests first `settle`: publish probes until every
 * subscriber has seen one. All waits are bounded; nothing asserts on timing.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Broker, BrokerEvent, BrokerMessage, SubscribeOptions, Subscriber } from "../../src/broker/broker.js";
import { until } from "../setup/wait.js";

export interface BrokerHarness {
  /** A new broker instance, as another process would have. */
  create(): Broker;
  /** The broker keeps each publisher's order for a subscriber. */
  ordered: boolean;
  /** A nacked message (or one whose handler threw) is delivered again. */
  redelivers: boolean;
  /**
   * The server drops messages for a subscriber this far behind (Mosquitto's max_queued_messages,
   * 1000 by default): the volume test then publishes in chunks the subscriber drains in between.
   */
  maxLag?: number;
  /** Header names must be ASCII tokens (NATS headers); values may still be any text. */
  asciiHeaderNames?: boolean;
  /** Fails with how to start the server when it is not running. */
  preflight?: () => Promise<void>;
  /** A server the test may stop and start, and brokers connected to it. */
  restart?: () => Promise<{ create(): Broker; stop(): Promise<void>; start(): Promise<void>; destroy(): Promise<void> }>;
  /** Removes what the tests left on the server (streams, durable queues). */
  cleanup?: (topics: string[]) => Promise<void>;
}

interface Received {
  id: string;
  message: BrokerMessage;
}

/** A subscription that records what it receives (probes apart). */
class Recorder {
  readonly received: Received[] = [];
  probes = 0;
  subscriber!: Subscriber;

  constructor(readonly label: string) {}

  handler = async (event: BrokerEvent): Promise<void> => {
    if (event.message.header["X-Probe"]) {
      this.probes++;
      return;
    }
    this.received.push({ id: event.message.header["X-Seq"] ?? "", message: event.message });
  };

  ids(): string[] {
    return this.received.map((r) => r.id);
  }
}

const text = (body: Uint8Array): string => Buffer.from(body).toString();
const msg = (seq: number | string, extra: Record<string, string> = {}): BrokerMessage => ({
  header: { "X-Seq": String(seq), "Content-Type": "text/plain", ...extra },
  body: Buffer.from(`message ${seq}`),
});

/** Publishes probes until every recorder has seen one. */
async function settle(publisher: Broker, topic: string, recorders: Array<{ label: string; probes: number }>, timeout = 15_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (recorders.some((r) => r.probes === 0)) {
    if (Date.now() > deadline)
      assert.fail(
        `subscriptions to ${topic} never became visible: ${recorders
          .filter((r) => r.probes === 0)
          .map((r) => r.label)
          .join(", ")} saw no probe`,
      );
    await publisher.publish(topic, { header: { "X-Probe": "1" }, body: Buffer.from("probe") }).catch(() => {});
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Publishes `count` messages, at most `window` unconfirmed at a time. */
async function publishMany(publisher: Broker, topic: string, count: number, window = 64, from = 0): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < from + count) await publisher.publish(topic, msg(next++));
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
}

export function brokerConformance(name: string, harness: BrokerHarness): void {
  describe(`broker conformance: ${name}`, () => {
    const brokers: Broker[] = [];
    const topics: string[] = [];
    const broker = (): Broker => {
      const b = harness.create();
      brokers.push(b);
      return b;
    };
    const topic = (what: string): string => {
      const t = `conformance.${name}.${what}.${randomUUID().slice(0, 8)}`;
      topics.push(t);
      return t;
    };
    async function subscribe(b: Broker, t: string, label: string, options?: SubscribeOptions): Promise<Recorder> {
      const recorder = new Recorder(label);
      recorder.subscriber = await b.subscribe(t, recorder.handler, options);
      return recorder;
    }

    before(async () => {
      await harness.preflight?.();
    });
    after(async () => {
      for (const b of brokers) await b.disconnect().catch(() => {});
      await harness.cleanup?.(topics);
    });

    it("fans every message out to every subscriber, headers and body intact", async () => {
      const t = topic("fanout");
      const subs = await Promise.all([1, 2, 3].map((i) => subscribe(broker(), t, `subscriber ${i}`)));
      const publisher = broker();
      await settle(publisher, t, subs);
      const unicode = harness.asciiHeaderNames ? "X-Unicode" : "X-Ünicode";
      for (let i = 0; i < 20; i++) await publisher.publish(t, msg(i, { [unicode]: "värde ✓" }));
      for (const sub of subs)
        await until(
          () => sub.received.length >= 20,
          10_000,
          () => `${sub.label} got ${sub.received.length}/20`,
        );
      for (const sub of subs) {
        assert.deepEqual(new Set(sub.ids()), new Set(Array.from({ length: 20 }, (_, i) => String(i))), `${sub.label} got every message once`);
        assert.equal(sub.received.length, 20, `${sub.label} got no duplicates`);
        const first = sub.received.find((r) => r.id === "0")!;
        assert.equal(text(first.message.body), "message 0");
        assert.equal(first.message.header[unicode], "värde ✓");
        assert.equal(first.message.header["Content-Type"], "text/plain");
      }
    });

    it("gives each message to exactly one member of each queue group, and to every plain subscriber", async () => {
      const t = topic("queues");
      const groupA = await Promise.all([1, 2, 3].map((i) => subscribe(broker(), t, `a${i}`, { queue: "a" })));
      const groupB = await Promise.all([1, 2].map((i) => subscribe(broker(), t, `b${i}`, { queue: "b" })));
      const plain = await subscribe(broker(), t, "plain");
      const publisher = broker();
      await settle(publisher, t, [...groupA, ...groupB, plain]);
      const count = 300;
      await publishMany(publisher, t, count, 16);
      const total = (group: Recorder[]): number => group.reduce((n, r) => n + r.received.length, 0);
      await until(
        () => total(groupA) >= count && total(groupB) >= count && plain.received.length >= count,
        20_000,
        () => `a: ${total(groupA)}, b: ${total(groupB)}, plain: ${plain.received.length} of ${count}`,
      );
      await new Promise((r) => setTimeout(r, 200)); // let any duplicate arrive before counting
      const expected = Array.from({ length: count }, (_, i) => String(i)).sort();
      for (const [label, group] of [
        ["a", groupA],
        ["b", groupB],
      ] as const) {
        const ids = group.flatMap((r) => r.ids()).sort();
        assert.deepEqual(ids, expected, `group ${label}: every message exactly once among its members`);
      }
      assert.deepEqual(plain.ids().sort(), expected);
      assert.ok(groupA.filter((r) => r.received.length > 0).length >= 2, `group a spread its messages (${groupA.map((r) => r.received.length).join("/")})`);
    });

    if (harness.ordered) {
      it("keeps each publisher's order", async () => {
        const t = topic("order");
        const sub = await subscribe(broker(), t, "subscriber");
        const publishers = [broker(), broker()];
        await settle(publishers[0], t, [sub]);
        await settle(publishers[1], t, [sub]);
        await Promise.all(
          publishers.map(async (p, n) => {
            for (let i = 0; i < 300; i++) await p.publish(t, msg(`${n}:${i}`));
          }),
        );
        await until(
          () => sub.received.length >= 600,
          15_000,
          () => `got ${sub.received.length}/600`,
        );
        for (const n of [0, 1]) {
          const seen = sub
            .ids()
            .filter((id) => id.startsWith(`${n}:`))
            .map((id) => Number(id.slice(2)));
          assert.deepEqual(
            seen,
            Array.from({ length: 300 }, (_, i) => i),
            `publisher ${n}'s messages arrive in order`,
          );
        }
      });
    }

    it("stops delivering after unsubscribe", async () => {
      const t = topic("unsubscribe");
      const b = broker();
      const gone = await subscribe(b, t, "gone");
      const stays = await subscribe(b, t, "stays");
      const publisher = broker();
      await settle(publisher, t, [gone, stays]);
      await gone.subscriber.unsubscribe();
      for (let i = 0; i < 10; i++) await publisher.publish(t, msg(i));
      await until(
        () => stays.received.length >= 10,
        10_000,
        () => `stays got ${stays.received.length}/10`,
      );
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(gone.received.length, 0, "the unsubscribed handler got nothing");
      assert.equal(gone.subscriber.topic, t);
    });

    it("delivers 10,000 messages without loss", async () => {
      const t = topic("volume");
      const sub = await subscribe(broker(), t, "subscriber");
      const publisher = broker();
      await settle(publisher, t, [sub]);
      const count = 10_000;
      const chunk = harness.maxLag ?? count;
      for (let sent = 0; sent < count; sent += chunk) {
        await publishMany(publisher, t, Math.min(chunk, count - sent), 128, sent);
        const target = Math.min(count, sent + chunk);
        await until(
          () => sub.received.length >= target,
          60_000,
          () => `got ${sub.received.length}/${target} of ${count}`,
        );
      }
      assert.equal(new Set(sub.ids()).size, count, "every message arrived");
    });

    it("keeps serving after a handler throws", async () => {
      const t = topic("throws");
      const b = broker();
      const seen: string[] = [];
      const counter = { label: "subscriber", probes: 0 };
      await b.subscribe(
        t,
        async (event) => {
          if (event.message.header["X-Probe"]) return void counter.probes++;
          const id = event.message.header["X-Seq"];
          seen.push(id);
          if (id === "poison" && seen.filter((s) => s === "poison").length === 1) throw new Error("handler failure (expected in this test)");
        },
        { queue: "workers" },
      );
      const publisher = broker();
      await settle(publisher, t, [counter]);
      await publisher.publish(t, msg("poison"));
      for (let i = 0; i < 5; i++) await publisher.publish(t, msg(i));
      await until(
        () => ["0", "1", "2", "3", "4"].every((id) => seen.includes(id)),
        10_000,
        () => `seen ${seen.join(",")}`,
      );
      if (harness.redelivers) {
        await until(
          () => seen.filter((s) => s === "poison").length >= 2,
          10_000,
          () => `the failed message was not redelivered (seen ${seen.join(",")})`,
        );
      }
    });

    if (harness.redelivers) {
      it("redelivers a nacked message and forgets an acked one", async () => {
        const t = topic("nack");
        const b = broker();
        const deliveries: string[] = [];
        const counter = { label: "subscriber", probes: 0 };
        await b.subscribe(
          t,
          async (event) => {
            if (event.message.header["X-Probe"]) {
              counter.probes++;
              return event.ack();
            }
            const id = event.message.header["X-Seq"];
            deliveries.push(id);
            if (deliveries.filter((d) => d === id).length === 1 && id === "1") await event.nack();
            else await event.ack();
          },
          { autoAck: false, queue: "workers" },
        );
        const publisher = broker();
        await settle(publisher, t, [counter]);
        for (let i = 0; i < 3; i++) await publisher.publish(t, msg(i));
        await until(
          () => deliveries.filter((d) => d === "1").length >= 2 && deliveries.includes("0") && deliveries.includes("2"),
          10_000,
          () => `deliveries ${deliveries.join(",")}`,
        );
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(deliveries.filter((d) => d === "0").length, 1, "an acked message is not redelivered");
        assert.equal(deliveries.filter((d) => d === "1").length, 2, "the nacked message came back once, then was acked");
      });
    }

    if (harness.restart) {
      it("reconnects after the server restarts, and its subscriptions work again", async () => {
        const server = await harness.restart!();
        const own: Broker[] = [];
        const create = (): Broker => {
          const b = server.create();
          own.push(b);
          return b;
        };
        try {
          const t = topic("restart");
          const plain = await subscribe(create(), t, "plain");
          const grouped = await subscribe(create(), t, "grouped", { queue: "workers" });
          const publisher = create();
          await settle(publisher, t, [plain, grouped]);
          await server.stop();
          await server.start();
          // Publish until both subscriptions receive again (reconnects take a moment), then a batch.
          const after = (r: Recorder): number => r.received.filter((m) => m.id.startsWith("after")).length;
          const deadline = Date.now() + 30_000;
          for (let i = 0; after(plain) === 0 || after(grouped) === 0; i++) {
            assert.ok(Date.now() < deadline, `no delivery within 30 s of the restart (plain ${after(plain)}, grouped ${after(grouped)})`);
            await publisher.publish(t, msg(`after-probe-${i}`)).catch(() => {});
            await new Promise((r) => setTimeout(r, 100));
          }
          for (let i = 0; i < 50; i++) await publisher.publish(t, msg(`after-${i}`));
          for (const r of [plain, grouped]) {
            await until(
              () => Array.from({ length: 50 }, (_, i) => `after-${i}`).every((id) => r.ids().includes(id)),
              15_000,
              () => `${r.label} got ${after(r)} after the restart`,
            );
          }
        } finally {
          for (const b of own) await b.disconnect().catch(() => {});
          await server.destroy();
        }
      });
    }
  });
}
