/**
 * The default http broker: the conformance suite over a shared registry, plus Go Micro's wire
 * format in both directions and retries of failed deliveries (test/broker/http-reliability.test.ts
 * has what publish() reports when they fail for good).
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { BROADCAST_VERSION, HTTP_BROKER_SERVICE, HttpBroker } from "../../src/broker/http.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { brokerConformance } from "../conformance/broker.js";

const registry = new MemoryRegistry();
brokerConformance("http", { create: () => new HttpBroker({ registry, retryInterval: 50 }), ordered: false, redelivers: true });

describe("http broker: Go Micro's format", () => {
  const brokers: HttpBroker[] = [];
  const servers: http.Server[] = [];
  after(async () => {
    for (const b of brokers) await b.disconnect();
    for (const s of servers) s.close();
    await registry.close();
  });
  const broker = (): HttpBroker => {
    const b = new HttpBroker({ registry, retryInterval: 50 });
    brokers.push(b);
    return b;
  };

  it("registers a subscriber as micro.http.broker with Go Micro's version, node id and metadata", async () => {
    const b = broker();
    const sub = await b.subscribe("format.registry", () => {});
    const queued = await b.subscribe("format.registry", () => {}, { queue: "workers" });
    const services = await registry.getService(HTTP_BROKER_SERVICE);
    const broadcast = services.find((s) => s.version === BROADCAST_VERSION)!;
    const node = broadcast.nodes.find((n) => n.metadata?.topic === "format.registry")!;
    assert.match(node.id, /^format\.registry-[0-9a-f-]{36}$/);
    assert.equal(node.address, b.address);
    assert.deepEqual(node.metadata, { broker: "http", topic: "format.registry", secure: "false" });
    assert.ok(services.find((s) => s.version === "workers")?.nodes.some((n) => n.metadata?.topic === "format.registry"));
    await sub.unsubscribe();
    await queued.unsubscribe();
    const left = (await registry.getService(HTTP_BROKER_SERVICE)).flatMap((s) => s.nodes).filter((n) => n.metadata?.topic === "format.registry");
    assert.equal(left.length, 0, "unsubscribe deregisters");
  });

  it("accepts a POST exactly as a Go Micro publisher sends it, and rejects what is not one", async () => {
    const b = broker();
    const got: Array<{ header: Record<string, string>; body: string }> = [];
    await b.subscribe("format.receive", (e) => void got.push({ header: e.message.header, body: Buffer.from(e.message.body).toString() }));
    const node = (await registry.getService(HTTP_BROKER_SERVICE)).flatMap((s) => s.nodes).find((n) => n.metadata?.topic === "format.receive")!;
    const post = (body: string, method = "POST", id = node.id): Promise<number> =>
      fetch(`http://${node.address}/?id=${encodeURIComponent(id)}`, {
        method,
        headers: { "Content-Type": "application/json" },
        body: method === "POST" ? body : undefined,
      }).then((r) => r.status);
    const goBody = JSON.stringify({
      Header: { "Content-Type": "application/json", "Micro-Topic": "format.receive", "Micro-ID": "abc" },
      Body: Buffer.from('{"n":1}\n').toString("base64"),
    });
    assert.equal(await post(goBody), 200);
    assert.deepEqual(got, [{ header: { "Content-Type": "application/json", "Micro-Topic": "format.receive", "Micro-ID": "abc" }, body: '{"n":1}\n' }]);
    // Go Micro answers these 500; its publishers read no status, so a precise 400 costs nothing.
    assert.equal(await post("not json"), 400, "garbage is a 400");
    assert.equal(await post(JSON.stringify({ Header: {}, Body: "" })), 400, "no Micro-Topic: 400");
    assert.equal(await post("", "GET"), 405);
    assert.equal(await post(goBody, "POST", "someone-else"), 404, "an unknown subscriber id");
    assert.equal(got.length, 1, "none of the bad requests reached the handler");
    assert.equal(await post(goBody), 200, "the subscriber still works");
  });

  it("publishes what a Go Micro subscriber expects, and retries deliveries that failed", async () => {
    // A stand-in for a Go Micro subscriber, registered by hand; it is down at first.
    const posts: Array<{ url: string; contentType: string; body: string }> = [];
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        posts.push({ url: req.url!, contentType: req.headers["content-type"]!, body });
        res.end();
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const node = {
      id: "format.send-0b9d7a4e-2f61-4f4e-9c7d-1f2f2f2f2f2f",
      address: `127.0.0.1:${port}`,
      metadata: { broker: "http", topic: "format.send", secure: "false" },
    };
    await registry.register({ name: HTTP_BROKER_SERVICE, version: "go-workers", metadata: null, endpoints: null, nodes: [node] });
    const publisher = new HttpBroker({ registry, retryInterval: 50, retryFor: 20_000 });
    brokers.push(publisher);
    // publish() keeps retrying while the subscriber is down, and resolves once it got them.
    const published = Array.from({ length: 3 }, (_, i) =>
      publisher.publish("format.send", { header: { "Content-Type": "application/json", "Micro-Id": String(i) }, body: Buffer.from(`{"n":${i}}`) }),
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(posts.length, 0);
    server.listen(port, "127.0.0.1");
    await Promise.all(published);
    assert.equal(posts.length, 3, "each message was delivered once");
    const first = posts.map((p) => JSON.parse(p.body)).find((m) => m.Header["Micro-Id"] === "0");
    assert.deepEqual(first, {
      Header: { "Content-Type": "application/json", "Micro-Id": "0", "Micro-Topic": "format.send" },
      Body: Buffer.from('{"n":0}').toString("base64"),
    });
    assert.equal(posts[0].url, `/?id=${node.id}`);
    assert.equal(posts[0].contentType, "application/json");
    await registry.deregister({ name: HTTP_BROKER_SERVICE, version: "go-workers", metadata: null, endpoints: null, nodes: [node] });
  });
});
