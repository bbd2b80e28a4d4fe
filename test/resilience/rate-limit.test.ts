/** Per-endpoint rate limits on a real service process: calls over the rate get 429 with a Retry-After hint. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type MicroError, RetryLaterError } from "../../src/errors/errors.js";
import { createClient } from "../../src/service/create-client.js";
import { type Started, startSlow } from "./harness.js";

describe("rate limits per endpoint (token bucket)", () => {
  let server: Started;
  let client: ReturnType<typeof createClient>;

  before(async () => {
    server = await startSlow({ MICRO_SERVER_RATE_LIMITS: "Slow.Limited=5:5" });
    process.env.MICRO_REGISTRY = "local";
    process.env.MICRO_REGISTRY_ADDRESS = server.registry;
    client = createClient({ retries: 0 });
  });
  after(async () => {
    await client?.close();
    await server?.stop();
  });

  it("answers 429 over the rate, and leaves other endpoints alone", async () => {
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 30 }, () =>
        client.call("slow", "Slow.Limited", {}).then(
          () => "ok",
          (err: unknown) => err,
        ),
      ),
    );
    const elapsed = (Date.now() - started) / 1_000;
    const ok = results.filter((r) => r === "ok").length;
    const limited = results.filter((r) => r instanceof RetryLaterError && r.code === 429 && r.retryAfter > 0);
    assert.equal(
      ok + limited.length,
      30,
      `every call either passed or got a 429 with a hint: ${results.filter((r) => r !== "ok" && !limited.includes(r)).map(String)}`,
    );
    assert.ok(ok >= 5, `the burst of 5 passed (ok ${ok})`);
    assert.ok(ok <= 5 + Math.ceil(5 * elapsed) + 1, `no more than burst + rate x elapsed passed (ok ${ok} in ${elapsed} s)`);
    assert.ok(limited.length > 0, "calls over the rate were refused");
    assert.match((limited[0] as MicroError).detail, /rate limit/);
    const stats = await client.call<{ calls: Record<string, number> }>("slow", "Slow.Stats", {});
    assert.equal(stats.calls.Limited, ok, "refused calls never reached the handler");
    const others = await Promise.all(Array.from({ length: 20 }, () => client.call<{ ok: boolean }>("slow", "Slow.Work", { ms: 1 })));
    assert.ok(
      others.every((r) => r.ok),
      "an endpoint without a limit is not limited",
    );
  });
});
