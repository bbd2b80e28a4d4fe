/**
 * The resilience pieces on their own, with clocks moved by hand: the retry budget's window, the
 * token bucket, a selector circuit's one trial at a time, a queued call whose caller gives up,
 * and settings that are not numbers.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ResponseCache } from "../../src/client/cache.js";
import { exponentialBackoff, RetryBudget } from "../../src/client/retry.js";
import { MicroError, RetryLaterError } from "../../src/errors/errors.js";
import type { Context } from "../../src/metadata/context.js";
import type { Node } from "../../src/registry/registry.js";
import { Selector } from "../../src/selector/selector.js";
import type { ServerRequest } from "../../src/server/server.js";
import { Settings } from "../../src/service/settings.js";
import { ConcurrencyLimit } from "../../src/wrappers/load-shedding.js";
import { TokenBucket } from "../../src/wrappers/rate-limit.js";

describe("resilience units", () => {
  it("retry budget: a share of the calls of the window, which slides", () => {
    let now = 0;
    const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 0, window: 1_000, clock: () => now });
    for (let i = 0; i < 10; i++) budget.call();
    assert.equal(budget.retry(), true);
    assert.equal(budget.retry(), true);
    assert.equal(budget.retry(), false, "2 retries for 10 calls at 20 %");
    assert.equal(budget.refused, 1);
    now = 2_000; // the window has passed: its calls and retries no longer count
    assert.equal(budget.retry(), false, "no calls in the window, no minimum: no retry");
    for (let i = 0; i < 5; i++) budget.call();
    assert.equal(budget.retry(), true);
  });

  it("backoff: nothing before the first retry, then doubling, jittered, capped", () => {
    const backoff = exponentialBackoff({ base: 100, max: 400, jitter: 0.5 });
    assert.equal(backoff(1), 0);
    for (let i = 0; i < 50; i++) {
      const second = backoff(2);
      const fourth = backoff(4);
      const tenth = backoff(10);
      assert.ok(second >= 50 && second <= 100, `attempt 2: ${second}`);
      assert.ok(fourth >= 200 && fourth <= 400, `attempt 4: ${fourth}`);
      assert.ok(tenth >= 200 && tenth <= 400, `capped: ${tenth}`);
    }
  });

  it("token bucket: a burst, then the rate, and how long until the next token", () => {
    let now = 0;
    const bucket = new TokenBucket({ rate: 10, burst: 2 }, () => now);
    assert.equal(bucket.take(), 0);
    assert.equal(bucket.take(), 0);
    assert.equal(bucket.take(), 100, "a token every 100 ms");
    now = 50;
    assert.equal(bucket.take(), 50);
    now = 100;
    assert.equal(bucket.take(), 0);
    assert.throws(() => new TokenBucket({ rate: 0 }), /above 0/);
  });

  it("selector circuits: open leaves the node out for that endpoint only, then one trial at a time", () => {
    let now = 0;
    const selector = new Selector({ clock: () => now });
    const nodes: Node[] = [
      { id: "a", address: "a:1", metadata: {} },
      { id: "b", address: "b:1", metadata: {} },
    ];
    const services = [{ name: "s", version: "1", metadata: null, endpoints: null, nodes }];
    selector.openCircuit("a:1", "S.Get", 1_000);
    for (let i = 0; i < 20; i++) assert.equal(selector.select("s", services, { endpoint: "S.Get" })?.address, "b:1");
    const others = new Set(Array.from({ length: 50 }, () => selector.select("s", services, { endpoint: "S.List" })?.address));
    assert.equal(others.size, 2, "the node still takes other endpoints");
    selector.openCircuit("b:1", "S.Get", 2_000);
    assert.equal(selector.select("s", services, { endpoint: "S.Get" }), undefined, "every circuit open: no node");
    assert.equal(selector.circuitWait(["a:1", "b:1"], "S.Get"), 1_000);
    now = 1_000;
    assert.equal(selector.circuit("a:1", "S.Get"), "half-open");
    assert.equal(selector.select("s", services, { endpoint: "S.Get" })?.address, "a:1", "the trial");
    assert.equal(selector.select("s", services, { endpoint: "S.Get" }), undefined, "one trial at a time");
    selector.closeCircuit("a:1", "S.Get");
    assert.equal(selector.circuit("a:1", "S.Get"), "closed");
    assert.equal(selector.select("s", services, { endpoint: "S.Get" })?.address, "a:1");
  });

  it("concurrency limit: a queued call whose deadline passes leaves with 408; the next is shed with 503", async () => {
    const limit = new ConcurrencyLimit({ concurrency: 1, queue: 1, service: "svc", retryAfter: 2_500 });
    let release: () => void = () => {};
    const handler = limit.wrapper(() => new Promise((resolve) => (release = () => resolve("done"))));
    const request = { endpoint: "S.Work", stream: false } as ServerRequest;
    const ctx = (signal: AbortSignal) => ({ signal }) as Context;
    const first = handler(request, ctx(new AbortController().signal));
    const caller = new AbortController();
    const queued = handler(request, ctx(caller.signal));
    const shed = await handler(request, ctx(new AbortController().signal)).catch((err: unknown) => err);
    assert.ok(shed instanceof RetryLaterError && shed.code === 503 && shed.header === "3", `shed: ${String(shed)}`);
    caller.abort();
    await assert.rejects(queued, (err: Error) => err instanceof MicroError && err.code === 408);
    assert.equal(limit.waiting, 0);
    const third = handler(request, ctx(new AbortController().signal)); // queued: the aborted one left room
    release();
    assert.equal(await first, "done");
    release();
    assert.equal(await third, "done");
    assert.equal(limit.active, 0);
    const debug = await limit.wrapper(async () => "health")({ endpoint: "Debug.Health", stream: false } as ServerRequest, ctx(new AbortController().signal));
    assert.equal(debug, "health", "the Debug handler is never limited");
  });

  it("response cache: errors are not kept; key ignores the order of object keys", async () => {
    let now = 0;
    const cache = new ResponseCache({ clock: () => now, maxEntries: 2 });
    const key = (body: unknown) => ResponseCache.key("s", "S.Get", "application/json", body);
    assert.equal(key({ a: 1, b: 2 }), key({ b: 2, a: 1 }));
    await assert.rejects(cache.get(key(1), 1_000, () => Promise.reject(new Error("boom"))));
    assert.equal(await cache.get(key(1), 1_000, async () => "fresh"), "fresh", "the failure was not cached");
    assert.equal(await cache.get(key(1), 1_000, async () => "other"), "fresh");
    now = 1_000;
    assert.equal(await cache.get(key(1), 1_000, async () => "new"), "new", "expired");
  });

  it("settings: a concurrency, budget, rate or flag that does not parse is refused with a clear error", () => {
    const saved = { ...process.env };
    try {
      process.env.MICRO_SERVER_CONCURRENCY = "lots";
      assert.throws(() => new Settings().whole("server_concurrency"), /server_concurrency \(MICRO_SERVER_CONCURRENCY\) = "lots" is not a whole number/);
      process.env.MICRO_CLIENT_RETRY_BUDGET = "2";
      assert.throws(() => new Settings().ratio("client_retry_budget"), /not a share from 0 to 1/);
      process.env.MICRO_SERVER_RATE_LIMITS = "Greeter.Hello=fast";
      assert.throws(() => new Settings().rates("server_rate_limits"), /is not <endpoint>=<calls a second>\[:<burst>\]/);
      process.env.MICRO_SERVER_RATE_LIMITS = "Greeter.Hello=100:200, *=5";
      assert.deepEqual(new Settings().rates("server_rate_limits"), { "Greeter.Hello": { rate: 100, burst: 200 }, "*": { rate: 5 } });
      process.env.MICRO_CLIENT_BREAKER = "maybe";
      assert.throws(() => new Settings().flag("client_breaker"), /not true or false/);
    } finally {
      process.env = saved;
    }
  });
});
