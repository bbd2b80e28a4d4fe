import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ServiceRecord } from "../../src/registry/registry.js";
import { filterMetadata, filterVersion, leastRequests, random, roundRobin, Selector } from "../../src/selector/selector.js";

const service = (version: string, ...addresses: string[]): ServiceRecord => ({
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

  it("keeps the record of the last node to go idle only, so idle nodes do not pile up", () => {
    const selector = new Selector();
    selector.end("a1", true); // no record: nothing happens
    assert.equal(selector.begin("a1"), 0);
    selector.end("a1", true);
    // Idle, but the last to go idle: its reply count is still there for the next call.
    assert.equal(selector.begin("a1"), 1);
    selector.end("a1", true);
    assert.equal(selector.begin("a2"), 0);
    selector.end("a2", true);
    // a2 went idle after a1, so a1's record was dropped and its count starts again.
    assert.equal(selector.begin("a1"), 0);
    assert.equal(selector.begin("a2"), 1, "a2 is kept while a1 is busy");
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

  describe("ejection and readmission", () => {
    const three = [service("1", "a1", "a2", "a3")];
    /** A selector on a clock the test moves by hand. */
    function manual(): { selector: Selector; advance: (ms: number) => void } {
      let now = 1_000_000;
      return {
        selector: new Selector({ ejectBase: 100, ejectMax: 1_000, clock: () => now }),
        advance: (ms) => {
          now += ms;
        },
      };
    }
    const picks = (selector: Selector, n = 60): Set<string> => new Set(Array.from({ length: n }, () => selector.select("svc", three)!.address));

    it("ejects a failed node for ejectBase, doubling per consecutive failure up to ejectMax", () => {
      const { selector, advance } = manual();
      selector.mark("a1", true);
      assert.equal(picks(selector).has("a1"), false);
      advance(99);
      assert.equal(selector.isEjected("a1"), true);
      advance(1);
      assert.equal(selector.isEjected("a1"), false, "ejected for 100 ms");
      selector.mark("a1", true);
      advance(199);
      assert.equal(selector.isEjected("a1"), true, "second failure: 200 ms");
      for (let i = 0; i < 6; i++) selector.mark("a1", true);
      advance(999);
      assert.equal(selector.isEjected("a1"), true);
      advance(1);
      assert.equal(selector.isEjected("a1"), false, "never longer than ejectMax");
    });

    it("takes a node back on trial, one call at a time, and fully after a success", () => {
      const { selector, advance } = manual();
      selector.mark("a1", true);
      selector.beginStream("a1");
      advance(100);
      assert.equal(picks(selector).has("a1"), true, "on trial once the ejection is over (an open stream does not hold it back)");
      selector.begin("a1");
      assert.equal(picks(selector).has("a1"), false, "no second call while the trial call is in flight");
      selector.end("a1", true);
      selector.mark("a1", false);
      selector.begin("a1");
      assert.equal(picks(selector).has("a1"), true, "readmitted: takes calls alongside those in flight");
    });

    it("ejects a node again, for twice as long, when its trial call fails", () => {
      const { selector, advance } = manual();
      selector.mark("a1", true);
      advance(100);
      selector.mark("a1", true);
      advance(199);
      assert.equal(picks(selector).has("a1"), false);
      advance(1);
      assert.equal(picks(selector).has("a1"), true);
    });

    it("never ejects every node: with all ejected, the one whose ejection ends first is picked", () => {
      const { selector, advance } = manual();
      selector.mark("a2", true);
      selector.mark("a2", true); // 200 ms
      advance(50);
      selector.mark("a1", true); // ends at +150
      selector.mark("a3", true);
      selector.mark("a3", true);
      selector.mark("a3", true); // 400 ms
      assert.deepEqual([...picks(selector)], ["a1"]);
      assert.deepEqual([...new Set(Array.from({ length: 30 }, () => selector.select("svc", three, { exclude: new Set(["a1"]) })!.address))], ["a2"]);
    });

    it("ejects a node that leaves calls unanswered while other nodes answer", () => {
      const { selector, advance } = manual();
      selector.begin("a1"); // a1 froze with this call
      selector.ejectUnanswering(250);
      for (let i = 0; i < 3; i++) {
        advance(100);
        selector.begin("a2");
        selector.end("a2", true);
        assert.deepEqual(selector.ejectUnanswering(250).ejected, i < 2 ? [] : ["a1"], `after ${100 * (i + 1)} ms`);
      }
      assert.equal(selector.isEjected("a1"), true);
      assert.deepEqual(selector.ejectUnanswering(250), { ejected: [], suspected: [] }, "reported once per ejection");
    });

    it("does not eject a node that answers, a node with a lone slow call, or a node with a silent stream", () => {
      const { selector, advance } = manual();
      selector.begin("a1");
      selector.begin("a1");
      selector.beginStream("a3");
      const token = selector.begin("a2"); // a lone slow call: nothing else answers
      for (let i = 0; i < 5; i++) {
        advance(100);
        // Nothing answers this client: silent nodes are suspected (to be pinged) every 250 ms, never ejected.
        const suspected = i === 2 ? ["a1", "a2"] : [];
        assert.deepEqual(selector.ejectUnanswering(250), { ejected: [], suspected }, `after ${100 * (i + 1)} ms`);
      }
      selector.end("a1", true); // a1 answers one of its two calls; a2 still says nothing
      assert.equal(selector.answeredSince("a1", 0), true);
      assert.equal(selector.answeredSince("a2", token), false);
      for (let i = 0; i < 2; i++) {
        advance(100);
        selector.begin("a1");
        selector.end("a1", true);
        assert.deepEqual(selector.ejectUnanswering(250).ejected, []);
      }
      advance(100);
      selector.begin("a1");
      selector.end("a1", true);
      assert.deepEqual(selector.ejectUnanswering(250).ejected, ["a2"], "quiet for 300 ms while a1 answered");
      assert.equal(selector.isEjected("a3"), false, "an open stream says nothing about liveness");
      assert.equal(selector.inflight("a3"), 1);
    });
  });
});
