/**
 * Calls and streams in flight, by id (a non-zero u32): an open-addressing hash table with linear
 * probing, its ids in a Uint32Array and its values in an array whose slots are cleared on delete.
 *
 * Not a Map: at 100k+ calls a second entries are added and deleted so fast that a Map keeps
 * outgrowing its hash table, and V8 leaves each outgrown table pointing to its successor (for
 * iterators that may still be walking it). Once one of those tables reaches the old generation —
 * it only takes a quiet moment — it keeps every later table alive, and with them every call
 * object they held, until the next full collection: each young collection then promotes
 * megabytes, and the caller's tail latency goes from under 1 ms to several. This table never
 * reallocates while its size is steady, and forgets a value as soon as it is deleted.
 */
export class IdTable<V> {
  private ids = new Uint32Array(16); // 0: empty slot
  private slots: Array<V | undefined> = new Array<V | undefined>(16).fill(undefined);
  private mask = 15;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): V | undefined {
    const at = this.find(id);
    return at < 0 ? undefined : this.slots[at];
  }

  has(id: number): boolean {
    return this.find(id) >= 0;
  }

  set(id: number, value: V): void {
    if (id <= 0 || id > 0xffffffff || !Number.isInteger(id)) throw new RangeError(`IdTable: id ${id} is not a non-zero u32`);
    let at = this.home(id);
    for (; this.ids[at] !== 0; at = (at + 1) & this.mask) {
      if (this.ids[at] === id) {
        this.slots[at] = value;
        return;
      }
    }
    this.ids[at] = id;
    this.slots[at] = value;
    if (++this.count * 2 > this.mask) this.grow();
  }

  delete(id: number): boolean {
    let hole = this.find(id);
    if (hole < 0) return false;
    this.count--;
    // Backward-shift deletion: pull later entries of the probe run into the hole, so lookups
    // never meet a gap before their id (no tombstones to clean up later).
    for (let at = (hole + 1) & this.mask; this.ids[at] !== 0; at = (at + 1) & this.mask) {
      const home = this.home(this.ids[at]);
      const reachable = hole <= at ? home <= hole || home > at : home <= hole && home > at;
      if (!reachable) continue;
      this.ids[hole] = this.ids[at];
      this.slots[hole] = this.slots[at];
      hole = at;
    }
    this.ids[hole] = 0;
    this.slots[hole] = undefined;
    return true;
  }

  /** A snapshot: safe to change the table while walking it. */
  keys(): number[] {
    const out: number[] = [];
    for (let at = 0; at <= this.mask; at++) if (this.ids[at] !== 0) out.push(this.ids[at]);
    return out;
  }

  /** A snapshot: safe to change the table while walking it. */
  values(): V[] {
    const out: V[] = [];
    for (let at = 0; at <= this.mask; at++) if (this.ids[at] !== 0) out.push(this.slots[at] as V);
    return out;
  }

  clear(): void {
    this.ids.fill(0);
    this.slots.fill(undefined);
    this.count = 0;
  }

  private find(id: number): number {
    for (let at = this.home(id); this.ids[at] !== 0; at = (at + 1) & this.mask) if (this.ids[at] === id) return at;
    return -1;
  }

  /** Fibonacci hashing: sequential ids spread evenly, and chosen ids cannot pile up cheaply. */
  private home(id: number): number {
    return (Math.imul(id, 0x9e3779b1) >>> 0) & this.mask;
  }

  private grow(): void {
    const ids = this.ids;
    const slots = this.slots;
    this.ids = new Uint32Array(ids.length * 2);
    this.slots = new Array<V | undefined>(ids.length * 2).fill(undefined);
    this.mask = ids.length * 2 - 1;
    this.count = 0;
    for (let at = 0; at < ids.length; at++) if (ids[at] !== 0) this.set(ids[at], slots[at] as V);
  }
}
