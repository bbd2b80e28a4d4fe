/**
 * Deadlines: calls grouped into buckets with one timer each; finished buckets are dropped, but
 * for the newest, which the next call reuses.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Deadlines } from "../../src/transport/framing/deadlines.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("deadlines", () => {
  it("reuses the newest bucket for calls one after another, and keeps no other empty bucket", () => {
    const deadlines = new Deadlines(() => assert.fail("nothing expires"), 5);
    const far = Date.now() + 60_000;
    const first = deadlines.add(1, far);
    deadlines.clear(1, first);
    assert.equal(deadlines.bucketCount, 1, "the newest bucket stays, empty");
    assert.equal(deadlines.add(2, far), first, "the next call lands in it again");
    deadlines.clear(2, first);
    const later = deadlines.add(3, far + 1_000);
    assert.equal(deadlines.bucketCount, 1, "a newer bucket drops the empty one");
    const earlier = deadlines.add(4, far);
    assert.equal(deadlines.bucketCount, 2);
    deadlines.clear(4, earlier); // the newest now: kept
    deadlines.clear(3, later); // not the newest, empty: dropped
    assert.equal(deadlines.bucketCount, 1);
  });

  it("expires a call in the kept bucket, and only calls still in it", async () => {
    const expired: number[] = [];
    const deadlines = new Deadlines((id) => expired.push(id), 5);
    const soon = Date.now() + 20;
    const bucket = deadlines.add(1, soon);
    deadlines.clear(1, bucket);
    deadlines.add(2, soon);
    await sleep(60);
    assert.deepEqual(expired, [2]);
    assert.equal(deadlines.bucketCount, 0);
  });
});
