/**
 * The NATS registry against the shared NATS server: the conformance suite, Go Micro's wire
 * format, and TTL for nodes whose owner died without a word.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createRequire } from "node:module";
import { after, describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { connect } from "@nats-io/transport-node";
import { parseServers } from "../../src/driver/nats.js";
import { CacheRegistry } from "../../src/registry/cache.js";
import { NatsRegistry } from "../../src/registry/nats.js";
import { makeService, nextEvent, registryConformance } from "../conformance/registry.js";
import { requireSharedNats } from "../setup/servers.js";
import { eventually } from "../setup/wait.js";

const servers = await requireSharedNats();

registryConformance("nats", () => new NatsRegistry({ servers }));
registryConformance("cache over nats", () => new CacheRegistry(new NatsRegistry({ servers }), { closeInner: true }));

const nc = await connect({ servers });
after(() => nc.close());

describe("nats registry specifics", () => {
  it("parses server lists like Go Micro", () => {
    assert.deepEqual(parseServers(undefined), ["nats://127.0.0.1:4222"]);
    assert.deepEqual(parseServers("a:1, nats://b:2"), ["nats://a:1", "nats://b:2"]);
  });

  it("announces on micro.nats.watch with Go Micro's Result JSON", async () => {
    const registry = new NatsRegistry({ servers });
    const sub = nc.subscribe("micro.nats.watch");
    try {
      await nc.flush();
      const service = makeService(`wire-${randomUUID().slice(0, 8)}`, "1.0.0", ["a"]);
      await registry.register(service, { ttl: 5_000 });
      for await (const msg of sub) {
        const result = JSON.parse(msg.string()) as Record<string, unknown>;
        if ((result.Service as { name?: string } | null)?.name !== service.name) continue;
        assert.equal(result.Action, "create");
        assert.deepEqual(Object.keys(result.Service as object), ["name", "version", "metadata", "endpoints", "nodes"]);
        assert.deepEqual(result.Service, service);
        assert.equal(result.TTL, 5_000 * 1e6, "TTL travels as a Go time.Duration (ns)");
        break;
      }
    } finally {
      sub.unsubscribe();
      await registry.close();
    }
  });

  it("answers Go Micro's get query and finds nodes announced by a Go-style peer", async () => {
    const registry = new NatsRegistry({ servers });
    const name = `goquery-${randomUUID().slice(0, 8)}`;
    const ours = makeService(name, "1.0.0", ["ts"]);
    // A Go Micro peer: answers queries for its node, as registry/nats does.
    const theirs = makeService(name, "1.0.0", ["go"]);
    const peer = nc.subscribe("micro.nats.query", {
      callback: (_err, msg) => {
        const query = JSON.parse(msg.string()) as { Action: string; Service: { name: string } | null };
        if (query.Action === "list" || query.Service?.name === name) msg.respond(JSON.stringify(theirs));
      },
    });
    try {
      await registry.register(ours);
      await registry.listServices(); // its query subscription is at the server once its own query returns
      await nc.flush();
      // Ask the way Go Micro asks: publish on the query subject with an inbox, collect answers.
      const inbox = `_INBOX.${randomUUID()}`;
      const answers: unknown[] = [];
      const sub = nc.subscribe(inbox, { callback: (_err, msg) => void answers.push(JSON.parse(msg.string())) });
      nc.publish("micro.nats.query", JSON.stringify({ Action: "get", Service: { name, version: "", metadata: null, endpoints: null, nodes: null } }), {
        reply: inbox,
      });
      await eventually(() => assert.equal(answers.length, 2));
      sub.unsubscribe();
      assert.ok(
        answers.some((a) => JSON.stringify(a) === JSON.stringify(ours)),
        "we answered with json(Service)",
      );
      const [merged] = await registry.getService(name);
      assert.deepEqual(merged.nodes.map((n) => n.id).sort(), [`${name}-go`, `${name}-ts`]);
    } finally {
      peer.unsubscribe();
      await registry.close();
    }
  });

  it("keeps collecting answers that keep coming after queryTimeout (an owner busy answering late)", async () => {
    const topic = `late-${randomUUID().slice(0, 8)}`;
    const registry = new NatsRegistry({ servers, queryTopic: `${topic}.query`, watchTopic: `${topic}.watch`, queryTimeout: 200 });
    const name = "late";
    // A busy owner: one answer (a node each) every 10 ms, the last well past the 200 ms window.
    const ids = Array.from({ length: 40 }, (_, i) => `n${i}`);
    const owner = nc.subscribe(`${topic}.query`, {
      callback: (_err, msg) => {
        const query = JSON.parse(msg.string()) as { Action: string; Service: { name: string } | null };
        if (query.Service?.name !== name) return;
        for (const [i, id] of ids.entries()) setTimeout(() => msg.respond(JSON.stringify(makeService(name, "1.0.0", [id]))), 10 * i);
      },
    });
    try {
      await nc.flush();
      const [found] = await registry.getService(name);
      assert.equal(found?.nodes.length, ids.length, "every answer, also those after the first 200 ms");
    } finally {
      owner.unsubscribe();
      await registry.close();
    }
  });

  it("counts answers that reached it in time even when its own process was busy past the window", async () => {
    const topic = `busy-${randomUUID().slice(0, 8)}`;
    const name = "busy";
    // The owner runs on a thread of its own, so it answers while this thread is blocked; it
    // raises `answered` once NATS has its answer.
    const answered = new Int32Array(new SharedArrayBuffer(4));
    const driver = createRequire(import.meta.url).resolve("@nats-io/transport-node");
    const owner = new Worker(
      `const { parentPort, workerData } = require("node:worker_threads");
       const { connect } = require(workerData.driver);
       (async () => {
         const nc = await connect({ servers: workerData.servers });
         nc.subscribe(workerData.topic + ".query", {
           callback: (_err, msg) => {
             msg.respond(JSON.stringify(workerData.answer));
             void nc.flush().then(() => { Atomics.store(workerData.answered, 0, 1); Atomics.notify(workerData.answered, 0); });
           },
         });
         await nc.flush();
         parentPort.postMessage("ready");
         parentPort.once("message", () => nc.close());
       })();`,
      { eval: true, workerData: { driver, servers, topic, answered, answer: makeService(name, "1.0.0", ["a"]) } },
    );
    const registry = new NatsRegistry({ servers, queryTopic: `${topic}.query`, watchTopic: `${topic}.watch` });
    try {
      await once(owner, "message");
      await registry.getService("connected-first");
      const lookup = registry.getService(name);
      await new Promise((resolve) => setImmediate(resolve)); // the query is out
      // This thread is blocked, as a starved process is, until the answer is on its way and the
      // 100 ms window is over: the window's timer and the answer are then due at once.
      Atomics.wait(answered, 0, 0, 30_000);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
      const [found] = await lookup;
      assert.deepEqual(
        found?.nodes.map((n) => n.id),
        [`${name}-a`],
      );
    } finally {
      owner.postMessage("stop");
      await registry.close();
      await owner.terminate();
    }
  });

  it("waits past queryTimeout for owners it has heard announce themselves, not for others", async () => {
    const topic = `heard-${randomUUID().slice(0, 8)}`;
    const registry = new NatsRegistry({ servers, queryTopic: `${topic}.query`, watchTopic: `${topic}.watch`, maxQueryTime: 5_000 });
    const heard = makeService("heard", "1.0.0", ["a"]);
    const unheard = makeService("unheard", "1.0.0", ["a"]);
    // A loaded host: both owners answer well after the 100 ms window, and well within maxQueryTime.
    const owner = nc.subscribe(`${topic}.query`, {
      callback: (_err, msg) => {
        const query = JSON.parse(msg.string()) as { Service: { name: string } | null };
        const answer = [heard, unheard].find((s) => s.name === query.Service?.name);
        if (answer) setTimeout(() => msg.respond(JSON.stringify(answer)), 500);
      },
    });
    const watcher = registry.watch({ service: heard.name });
    try {
      await registry.listServices(); // the watch subscription is at the server once a query returns
      nc.publish(`${topic}.watch`, JSON.stringify({ Action: "create", Service: heard, TTL: 60_000 * 1e6 }));
      await nextEvent(watcher, (e) => e.action === "create");
      assert.deepEqual(
        (await registry.getService(heard.name)).flatMap((s) => s.nodes.map((n) => n.id)),
        ["heard-a"],
        "an owner known to exist is waited for",
      );
      assert.deepEqual(await registry.getService(unheard.name), [], "nobody has heard of this one: Go Micro's window, and not found");
    } finally {
      watcher.stop();
      owner.unsubscribe();
      await registry.close();
    }
  });

  it("passes on the next announcement of a node a watcher missed because a lookup did not find it", async () => {
    const topic = `missed-${randomUUID().slice(0, 8)}`;
    const registry = new NatsRegistry({ servers, queryTopic: `${topic}.query`, watchTopic: `${topic}.watch`, queryTimeout: 50, maxQueryTime: 200 });
    const node = makeService("missed", "1.0.0", ["a"]);
    const announce = (): void => nc.publish(`${topic}.watch`, JSON.stringify({ Action: "create", Service: node, TTL: 60_000 * 1e6 }));
    const everything = registry.watch();
    let watcher: ReturnType<typeof registry.watch> | undefined;
    try {
      await registry.listServices();
      announce();
      await nextEvent(everything, (e) => e.action === "create"); // heard, before anyone watched the service
      // A cache's order: watch the service, then look it up. Its owner is too busy to answer.
      watcher = registry.watch({ service: node.name });
      assert.deepEqual(await registry.getService(node.name), []);
      announce(); // its heartbeat, unchanged
      const event = await nextEvent(watcher, () => true, 3_000);
      assert.deepEqual(
        event.service.nodes.map((n) => n.id),
        ["missed-a"],
      );
    } finally {
      watcher?.stop();
      everything.stop();
      await registry.close();
    }
  });

  it("ends a lookup after maxQueryTime even if answers never stop", async () => {
    const topic = `endless-${randomUUID().slice(0, 8)}`;
    const registry = new NatsRegistry({ servers, queryTopic: `${topic}.query`, watchTopic: `${topic}.watch`, queryTimeout: 50, maxQueryTime: 300 });
    let answering: NodeJS.Timeout | undefined;
    const owner = nc.subscribe(`${topic}.query`, {
      callback: (_err, msg) => {
        let n = 0;
        answering = setInterval(() => msg.respond(JSON.stringify(makeService("endless", "1.0.0", [`n${n++}`]))), 5);
      },
    });
    try {
      await nc.flush();
      const [found] = await registry.getService("endless");
      assert.ok(found.nodes.length > 0, "it collected answers, then returned");
    } finally {
      clearInterval(answering);
      owner.unsubscribe();
      await registry.close();
    }
  });

  it("tells watchers a node is gone when its owner dies without deregistering", async () => {
    const watcherSide = new NatsRegistry({ servers, sweepInterval: 100 });
    const owner = new NatsRegistry({ servers });
    const service = makeService(`dies-${randomUUID().slice(0, 8)}`, "1.0.0", ["a"]);
    const watcher = watcherSide.watch({ service: service.name });
    try {
      await watcherSide.listServices(); // the watch subscription is at the server once a query returns
      await owner.register(service, { ttl: 600 });
      await nextEvent(watcher, (e) => e.action === "create");
      // The owner vanishes: no deregistration, no TTL sweep of its own, no answers.
      await owner.close();
      const started = Date.now();
      const deleted = await nextEvent(watcher, (e) => e.action === "delete", 3_000);
      assert.equal(deleted.service.nodes[0].id, `${service.name}-a`);
      assert.ok(Date.now() - started < 1_500, "gone within about its TTL");
    } finally {
      watcher.stop();
      await watcherSide.close();
      await owner.close();
    }
  });

  it("keeps a silent node whose owner still answers for it (a Go Micro node that never re-announces)", async () => {
    const watcherSide = new NatsRegistry({ servers, sweepInterval: 100 });
    const name = `quiet-${randomUUID().slice(0, 8)}`;
    const node = makeService(name, "1.0.0", ["go"]);
    const peer = nc.subscribe("micro.nats.query", {
      callback: (_err, msg) => {
        const query = JSON.parse(msg.string()) as { Service: { name: string } | null };
        if (query.Service?.name === name) msg.respond(JSON.stringify(node));
      },
    });
    const watcher = watcherSide.watch({ service: name });
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      nc.publish("micro.nats.watch", JSON.stringify({ Action: "create", Service: node, TTL: 300 * 1e6 }));
      await nextEvent(watcher, (e) => e.action === "create");
      await assert.rejects(
        nextEvent(watcher, (e) => e.action === "delete", 1_200),
        /timed out/,
      );
    } finally {
      peer.unsubscribe();
      watcher.stop();
      await watcherSide.close();
    }
  });

  it("uses a shared connection (option connection) and leaves it open, without its subscriptions, on close", async () => {
    const shared = await connect({ servers });
    try {
      const a = new NatsRegistry({ connection: shared });
      const b = new NatsRegistry({ connection: shared });
      const service = makeService(`shared-${randomUUID().slice(0, 8)}`, "1.0.0", ["a"]);
      const watcher = b.watch({ service: service.name });
      await b.getService(service.name);
      const sentBefore = shared.stats().outMsgs;
      await a.register(service, { ttl: 5_000 });
      assert.ok(shared.stats().outMsgs > sentBefore, "the announcement went out on the shared connection");
      await nextEvent(watcher, (e) => e.action === "create");
      assert.deepEqual(
        (await b.getService(service.name)).flatMap((s) => s.nodes.map((n) => n.id)),
        [service.nodes[0].id],
      );
      await a.close();
      await b.close();
      assert.equal(shared.isClosed(), false, "the shared connection stays open");
      // The owner's query subscription left with it: nobody answers for its node any more.
      const other = new NatsRegistry({ servers });
      try {
        assert.deepEqual(await other.getService(service.name), []);
      } finally {
        await other.close();
      }
    } finally {
      await shared.close();
    }
  });
});
