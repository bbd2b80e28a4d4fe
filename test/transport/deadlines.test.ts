/**
 * Deadlines (transport/framing/deadlines.ts): the bucketed call deadlines of the mux and NATS
 * clients. One timer serves every bucket, so what matters is that each deadline still fires,
 * never before it is due, and that a cleared one never does, whatever the order of arming.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Deadlines } from "../../src/transport/framing/deadlines.js";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Deadlines recording when each key expired. */
function recorder(): { deadlines: Deadlines; expired: Map<number, number> } {
  const expired = new Map<number, number>();
  return { deadlines: new Deadlines((key) => expired.set(key, Date.now())), expired };
}

async function until(condition: () => boolean, ms = 2_000): Promise<void> {
  for (const end = Date.now() + ms; !condition(); await sleep(5)) if (Date.now() > end) assert.fail("condition not met in time");
}

describe("Deadlines", () => {
  it("expires a key once its deadline has passed, not before", async () => {
    const { deadlines, expired } = recorder();
    const deadline = Date.now() + 30;
    deadlines.add(1, deadline);
    await until(() => expired.has(1));
    assert.ok(expired.get(1)! >= deadline, "expired before its deadline");
  });

  it("never expires a cleared key, and keeps serving after its bucket emptied", async () => {
    const { deadlines, expired } = recorder();
    const first = deadlines.add(1, Date.now() + 20);
    deadlines.clear(1, first);
    // The next call lands in a fresh bucket (a lone caller's pattern: one call at a time).
    deadlines.add(2, Date.now() + 40);
    await until(() => expired.has(2));
    await sleep(30);
    assert.deepEqual([...expired.keys()], [2]);
  });

  it("fires an earlier deadline armed after a later one at its own time", async () => {
    const { deadlines, expired } = recorder();
    const later = deadlines.add(1, Date.now() + 5_000);
    const soon = Date.now() + 30;
    deadlines.add(2, soon);
    await until(() => expired.has(2));
    assert.ok(expired.get(2)! >= soon);
    assert.equal(expired.has(1), false, "the later deadline fired early");
    deadlines.clear(1, later);
  });

  it("expires every key of every due bucket, and only those", async () => {
    const { deadlines, expired } = recorder();
    const base = Date.now();
    const buckets = new Map<number, number>();
    for (let key = 1; key <= 40; key++) buckets.set(key, deadlines.add(key, base + 10 + (key % 4) * 10));
    for (let key = 1; key <= 40; key += 2) deadlines.clear(key, buckets.get(key)!);
    await until(() => expired.size === 20);
    await sleep(30);
    assert.deepEqual(
      [...expired.keys()].sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => 2 * (i + 1)),
    );
  });
});
