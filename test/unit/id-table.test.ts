import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IdTable } from "../../src/transport/framing/id-table.js";

describe("IdTable", () => {
  it("agrees with a Map over 200,000 random sets, gets and deletes, through growth and wrap-around", () => {
    const table = new IdTable<number>();
    const reference = new Map<number, number>();
    let seed = 42;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    let next = 0xfffffff0; // ids wrap past 2^32 as the mux transport's do
    for (let step = 0; step < 200_000; step++) {
      const op = random(10);
      if (op < 4) {
        next = next >= 0xffffffff ? 1 : next + 1;
        table.set(next, step);
        reference.set(next, step);
      } else if (op < 7 && reference.size > 0) {
        const keys = [...reference.keys()];
        const id = keys[random(keys.length)];
        assert.equal(table.delete(id), true);
        reference.delete(id);
      } else {
        const id = random(3) === 0 ? random(1_000_000) + 1 : next;
        assert.equal(table.get(id), reference.get(id));
        assert.equal(table.has(id), reference.has(id));
      }
      assert.equal(table.size, reference.size);
    }
    assert.deepEqual(new Set(table.keys()), new Set(reference.keys()));
    assert.deepEqual(new Set(table.values()), new Set(reference.values()));
    assert.equal(table.delete(123_456_789), false);
    table.clear();
    assert.equal(table.size, 0);
    assert.equal(table.get(next), undefined);
  });

  it("replaces the value of an id already present, and refuses id 0", () => {
    const table = new IdTable<string>();
    table.set(7, "a");
    table.set(7, "b");
    assert.equal(table.size, 1);
    assert.equal(table.get(7), "b");
    assert.throws(() => table.set(0, "x"), /not a non-zero u32/);
  });
});
