/**
 * Pub/sub between Go Micro and ts-micro over Go Micro's HTTP broker (the default on both sides):
 * subscribers register as `micro.http.broker` in the shared registry, publishers POST the JSON
 * envelope to them. Broadcast (no queue: every subscriber gets every event) and queue (version =
 * queue name: each event goes to one member), both directions. One suite, run over each shared
 * registry (world.ts): NATS, etcd, and mDNS between two network namespaces.
 *
 * Over mDNS a subscriber's node id `<topic>-<uuid>` becomes DNS labels (split at the dots), so the
 * topic's last dot-separated part may have at most 26 characters (63-byte labels); the mDNS-only
 * test at the end shows what each side does with a longer one.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../setup/wait.js";
import { type GoProcess, runGo, startGo } from "./go.js";
import { createWorld, REGISTRY_KINDS, type RegistryKind, startTs, TsPeer, type TsProcess, type World } from "./world.js";

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
const ETCD_PORT = 23798; // and 23799 for its peer URL

function brokerSuite(kind: RegistryKind): void {
  describe(`pub/sub between Go Micro and ts-micro over the HTTP broker (shared ${kind} registry)`, () => {
    const run = randomUUID().slice(0, 8);
    let world: World | undefined;
    let publisher: TsPeer | undefined;
    const tsSubscribers: TsProcess[] = [];
    const goSubscribers: GoProcess[] = [];

    before(async () => {
      world = await createWorld(kind, ETCD_PORT);
      publisher = await TsPeer.start(world.ts);
    });
    after(async () => {
      await Promise.allSettled([publisher?.stop(), ...tsSubscribers.map((s) => s.stop()), ...goSubscribers.map((s) => s.stop())]);
      await world?.dispose();
    });

    async function tsSubscriber(topic: string, queue?: string): Promise<TsProcess> {
      const p = await startTs("ts-subscriber", world!.ts, { INTEROP_TOPIC: topic, INTEROP_NAME: `ts-sub-${run}`, ...(queue ? { INTEROP_QUEUE: queue } : {}) });
      tsSubscribers.push(p);
      return p;
    }

    async function goSubscriber(topic: string, queue?: string): Promise<GoProcess> {
      const p = await startGo(
        "subscriber",
        { ...world!.go.env, INTEROP_TOPIC: topic, INTEROP_NAME: `go-sub-${run}`, ...(queue ? { INTEROP_QUEUE: queue } : {}) },
        20_000,
        world!.go.launch,
      );
      goSubscribers.push(p);
      return p;
    }

    const goPublish = (topic: string, count: number): Promise<{ published?: number; error?: string }> =>
      runGo("publisher", { ...world!.go.env, INTEROP_TOPIC: topic, INTEROP_COUNT: String(count) }, 30_000, world!.go.launch);

    const tsPublish = (topic: string, count: number): Promise<number> => publisher!.do<number>({ op: "publish", topic, count });

    /**
     * Waits (bounded) until the publishing side sees `n` subscriber nodes of `topic`: the Go
     * publisher is a fresh process that looks them up; the ts-micro publisher is long-lived and
     * reads its broker's watch-fed cache. Over NATS and etcd a registration reaches watchers at
     * once; over mDNS only with the new node's announcement, which Go Micro sends after probing
     * (up to ~750 ms after it answers lookups), so a publish right after a lookup found the node
     * could still miss it.
     */
    async function subscribersVisible(n: number, topic: string, from: "go" | "ts"): Promise<void> {
      const count = async (): Promise<number> => {
        const records =
          from === "ts"
            ? await publisher!
                .do<Array<{ nodes: Array<{ metadata: Record<string, string> | null }> }>>({ op: "cached", service: "micro.http.broker" })
                .catch(() => [])
            : ((
                await runGo<{ service?: Array<{ nodes: Array<{ metadata: Record<string, string> | null }> }> }>(
                  "client",
                  { ...world!.go.env, INTEROP_MODE: "list", INTEROP_SERVICE: "micro.http.broker" },
                  30_000,
                  world!.go.launch,
                )
              ).service ?? []);
        return records.flatMap((r) => r.nodes).filter((node) => node.metadata?.topic === topic).length;
      };
      assert.ok(await waitFor(async () => (await count()) >= n, 5_000, 200), `the ${from} side does not see ${n} subscribers of ${topic}`);
    }

    it("Go Micro publishes, every ts-micro subscriber gets every event (broadcast)", async () => {
      const topic = `interop.broadcast.go.${run}`;
      const subs = [await tsSubscriber(topic), await tsSubscriber(topic)];
      await subscribersVisible(2, topic, "go");
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
      await subscribersVisible(2, topic, "go");
      assert.deepEqual(await goPublish(topic, 8), { published: 8 });
      const all = (): Received[] => subs.flatMap((s) => eventsOf(s.output()));
      assert.ok(await waitFor(() => all().length >= 8, 5_000), `got ${all().length} of 8`);
      await new Promise((r) => setTimeout(r, 200)); // a duplicate would show up by now
      assert.deepEqual(ids(all()), [0, 1, 2, 3, 4, 5, 6, 7], "each event exactly once across the queue");
    });

    it("ts-micro publishes, every Go Micro subscriber gets every event (broadcast)", async () => {
      const topic = `interop.broadcast.ts.${run}`;
      const subs = [await goSubscriber(topic), await goSubscriber(topic)];
      await subscribersVisible(2, topic, "ts");
      assert.equal(await tsPublish(topic, 3), 3);
      for (const sub of subs) {
        assert.ok(await waitFor(() => eventsOf(sub.output()).length >= 3, 5_000), `got ${sub.output()}`);
        assert.deepEqual(ids(eventsOf(sub.output())), [0, 1, 2]);
        assert.equal(eventsOf(sub.output())[0].topic, topic);
        assert.match(eventsOf(sub.output())[0].event.text, /^from ts /);
      }
    });

    it("ts-micro publishes to a queue, each event reaches one Go Micro subscriber", async () => {
      const topic = `interop.queue.ts.${run}`;
      const subs = [await goSubscriber(topic, "workers"), await goSubscriber(topic, "workers")];
      await subscribersVisible(2, topic, "ts");
      assert.equal(await tsPublish(topic, 8), 8);
      const all = (): Received[] => subs.flatMap((s) => eventsOf(s.output()));
      assert.ok(await waitFor(() => all().length >= 8, 5_000), `got ${all().length} of 8`);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(ids(all()), [0, 1, 2, 3, 4, 5, 6, 7], "each event exactly once across the queue");
    });

    if (kind === "mdns") {
      it("a topic whose last part is over 26 characters: Go Micro's subscriber is never found, ts-micro refuses to subscribe", async () => {
        // `<last part>-<uuid>` is 27 + 1 + 36 = 64 bytes, one more than a DNS label holds.
        const topic = `interop.${"x".repeat(27)}`;
        const sub = await goSubscriber(topic);
        // Go Micro subscribes without an error; its mDNS responder cannot pack the records, logs
        // `dns: bad rdata` for every probe, announcement and answer, and nobody ever finds it.
        assert.ok(await waitFor(() => /bad rdata/.test(sub.output()), 5_000), `Go Micro's mDNS log:\n${sub.output()}`);
        const records = await publisher!.do<Array<{ nodes: Array<{ metadata: Record<string, string> | null }> }>>({ op: "get", service: "micro.http.broker" });
        assert.deepEqual(
          records.flatMap((r) => r.nodes).filter((n) => n.metadata?.topic === topic),
          [],
        );
        // ts-micro's mDNS registry says so instead of registering a node nobody can find.
        await assert.rejects(tsSubscriber(topic), /too long for DNS/);
      });
    }
  });
}

for (const kind of REGISTRY_KINDS) brokerSuite(kind);
