/**
 * Deadlines (transport/framing/deadlines.ts): the bucketed call deadlines of the mux and NATS
 * clients. One timer serves every bucket, so what matters is that each deadline still fires,
 * never before it is due, and that a cleared one never does, whatever the order of arming.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Deadlines } from "../../src/transport/framing/deadlines.js";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Deadlines as a client uses them: `arm` and `disarm` keep the owner's record of which bucket
 * each key is armed in (what Deadlines asks before expiring an id); expiries are recorded.
 */
function recorder(): { arm(key: number, deadline: number): number; disarm(key: number): void; expired: Map<number, number> } {
  const expired = new Map<number, number>();
  const armedIn = new Map<number, number>();
  const deadlines = new Deadlines(
    (key) => {
      armedIn.delete(key);
      expired.set(key, Date.now());
    },
    (key, at) => armedIn.get(key) === at,
  );
  return {
    arm(key, deadline) {
      const at = deadlines.add(key, deadline - Date.now());
      armedIn.set(key, at);
      return at;
    },
    disarm(key) {
      const at = armedIn.get(key);
      assert.ok(at !== undefined, `key ${key} is not armed`);
      armedIn.delete(key);
      deadlines.clear(at);
    },
    expired,
  };
}

async function until(condition: () => boolean, ms = 2_000): Promise<void> {
  for (const end = Date.now() + ms; !condition(); await sleep(5)) if (Date.now() > end) assert.fail("condition not met in time");
}

describe("Deadlines", () => {
  it("expires a key once its deadline has passed, not before", async () => {
    const { arm, expired } = recorder();
    const deadline = Date.now() + 30;
    arm(1, deadline);
    await until(() => expired.has(1));
    assert.ok(expired.get(1)! >= deadline, "expired before its deadline");
  });

  it("never expires a cleared key, and keeps serving after its bucket emptied", async () => {
    const { arm, disarm, expired } = recorder();
    arm(1, Date.now() + 20);
    disarm(1);
    // The next call lands in a fresh bucket (a lone caller's pattern: one call at a time).
    arm(2, Date.now() + 40);
    await until(() => expired.has(2));
    await sleep(30);
    assert.deepEqual([...expired.keys()], [2]);
  });

  it("fires an earlier deadline armed after a later one at its own time", async () => {
    const { arm, disarm, expired } = recorder();
    arm(1, Date.now() + 5_000);
    const soon = Date.now() + 30;
    arm(2, soon);
    await until(() => expired.has(2));
    assert.ok(expired.get(2)! >= soon);
    assert.equal(expired.has(1), false, "the later deadline fired early");
    disarm(1);
  });

  it("expires every key of every due bucket, and only those", async () => {
    const { arm, disarm, expired } = recorder();
    const base = Date.now();
    for (let key = 1; key <= 40; key++) arm(key, base + 10 + (key % 4) * 10);
    for (let key = 1; key <= 40; key += 2) disarm(key);
    await until(() => expired.size === 20);
    await sleep(30);
    assert.deepEqual(
      [...expired.keys()].sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => 2 * (i + 1)),
    );
  });

  it("in a bucket that never empties, expires only the keys still armed, however many came and went", async () => {
    const { arm, disarm, expired } = recorder();
    const deadline = Date.now() + 60;
    arm(1, deadline); // stays armed: the bucket never empties
    // Thousands of calls through the same bucket (one caller context's fixed deadline), each
    // answered in time: enough for the bucket to be compacted many times over.
    for (let key = 3; key < 5_000; key += 2) {
      arm(key, deadline);
      disarm(key);
    }
    arm(5_001, deadline);
    await until(() => expired.size === 2);
    await sleep(20);
    assert.deepEqual(
      [...expired.keys()].sort((a, b) => a - b),
      [1, 5_001],
    );
  });

  it("keeps serving a lone caller's stream of calls, then expires the one left unanswered", async () => {
    const { arm, disarm, expired } = recorder();
    for (let key = 1; key < 2_000; key += 2) {
      arm(key, Date.now() + 40);
      disarm(key);
      if (key % 200 === 1) await sleep(1); // let time pass: new buckets, the old ones dropped
    }
    arm(2_001, Date.now() + 40);
    await until(() => expired.has(2_001));
    await sleep(50);
    assert.deepEqual([...expired.keys()], [2_001]);
  });

  it("after stop() expires nothing it held, and takes new deadlines as before", async () => {
    const expired: number[] = [];
    const deadlines = new Deadlines(
      (key) => expired.push(key),
      () => true,
    );
    deadlines.add(1, 20);
    deadlines.stop();
    await sleep(50);
    assert.deepEqual(expired, []);
    deadlines.add(2, 20);
    await until(() => expired.length === 1);
    assert.deepEqual(expired, [2]);
  });
});
