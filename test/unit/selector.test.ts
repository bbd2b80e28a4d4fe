import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Service } from "../../src/registry/registry.js";
import { filterMetadata, filterVersion, leastRequests, random, roundRobin, Selector } from "../../src/selector/selector.js";

const service = (version: string, ...addresses: string[]): Service => ({
  name: "svc",
  version,
  metadata: null,
  endpoints: [],
  nodes: addresses.map((address) => ({ id: address, address, metadata: { zone: address.startsWith("a") ? "a" : "b" } })),
});
const services = [service("1", "a1", "a2"), service("2", "b1")];

describe("selector", () => {
  it("random spreads calls over every node", () => {
    const selector = new Selector({ strategy: random });
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) seen.add(selector.select("svc", services)!.address);
    assert.deepEqual([...seen].sort(), ["a1", "a2", "b1"]);
  });

  it("roundRobin visits nodes in turn", () => {
    const selector = new Selector({ strategy: roundRobin() });
    const picks = Array.from({ length: 6 }, () => selector.select("svc", services)!.address);
    assert.deepEqual(picks.slice(0, 3).sort(), ["a1", "a2", "b1"]);
    assert.deepEqual(picks.slice(3), picks.slice(0, 3));
  });

  it("leastRequests prefers the node with fewest calls in flight", () => {
    const selector = new Selector({ strategy: leastRequests });
    selector.begin("a1");
    selector.begin("a2");
    assert.equal(selector.select("svc", services)!.address, "b1");
    selector.end("a1", false);
    selector.begin("b1");
    assert.equal(selector.select("svc", services)!.address, "a1");
  });

  it("filters by version and by node metadata", () => {
    const selector = new Selector();
    for (let i = 0; i < 20; i++) assert.equal(selector.select("svc", services, { filters: [filterVersion("2")] })!.address, "b1");
    for (let i = 0; i < 20; i++) assert.match(selector.select("svc", services, { filters: [filterMetadata("zone", "a")] })!.address, /^a/);
    assert.equal(selector.select("svc", services, { filters: [filterVersion("9")] }), undefined);
  });

  it("skips excluded and ejected nodes, but tries ejected ones when nothing else is left", () => {
    const selector = new Selector();
    selector.mark("a1", true);
    selector.mark("a2", true);
    for (let i = 0; i < 20; i++) assert.equal(selector.select("svc", services)!.address, "b1");
    assert.equal(selector.select("svc", services, { exclude: new Set(["b1"]) })?.address.startsWith("a"), true);
    assert.ok(selector.select("svc", services, { exclude: new Set(["a1", "a2", "b1"]) }), "with every node tried, a tried one is picked again");
    selector.mark("a1", false);
    assert.equal(selector.isEjected("a1"), false);
  });

  it("backs off ejections exponentially", () => {
    const selector = new Selector({ ejectBase: 1_000 });
    selector.mark("x", true);
    selector.mark("x", true);
    selector.mark("x", true);
    assert.equal(selector.isEjected("x"), true);
  });
});
