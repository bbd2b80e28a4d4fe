/**
 * The retry budget during an outage: a service that answers every call with 503 gets, from a
 * client retrying idempotent calls up to 3 times, not 4 attempts per call but about one call's
 * worth plus the budget's 10 %. Attempts are counted on the server.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MicroError } from "../../src/errors/errors.js";
import { createClient } from "../../src/service/create-client.js";
import { type Started, startSlow } from "./harness.js";

describe("retry budget", () => {
  let server: Started;

  before(async () => {
    server = await startSlow();
    process.env.MICRO_REGISTRY = "local";
    process.env.MICRO_REGISTRY_ADDRESS = server.registry;
  });
  after(async () => {
    await server?.stop();
  });

  const attemptsFor = async (calls: number, budget: false | { ratio: number; minPerSecond: number }): Promise<number> => {
    const client = createClient({ retries: 3, retryBudget: budget, backoff: { base: 1, max: 2 } });
    try {
      const before = (await client.call<{ calls: Record<string, number> }>("slow", "Slow.Stats", {})).calls.Unavailable ?? 0;
      for (let i = 0; i < calls; i++) {
        await assert.rejects(client.call("slow", "Slow.Unavailable", {}, { idempotent: true }), (err: Error) => err instanceof MicroError && err.code === 503);
      }
      const afterwards = (await client.call<{ calls: Record<string, number> }>("slow", "Slow.Stats", {})).calls.Unavailable ?? 0;
      return afterwards - before;
    } finally {
      await client.close();
    }
  };

  it("without a budget, every failed idempotent call is tried 4 times", async () => {
    assert.equal(await attemptsFor(20, false), 80);
  });

  it("with a 10 % budget, retries stay within 10 % of the calls", async () => {
    const attempts = await attemptsFor(100, { ratio: 0.1, minPerSecond: 0 });
    assert.ok(attempts > 100, `some retries were allowed (${attempts} attempts for 100 calls)`);
    assert.ok(attempts <= 110, `retries capped at 10 % of calls (${attempts} attempts for 100 calls; 400 without the budget)`);
  });
});
