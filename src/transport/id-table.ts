/**
 * Calls and streams in flight, by id. Not a Map: at 100k+ calls a second entries are added and
 * deleted so fast that a Map keeps outgrowing its hash table, and V8 leaves each outgrown table
 * pointing to its successor (for iterators that may still be walking it). Once one of those
 * tables reaches the old generation — it only takes a quiet moment — it keeps every later table
 * alive, and with them every call object they held, until the next full collection: each young
 * collection then promotes megabytes, and the caller's tail latency goes from under 1 ms to
 * several. A dictionary-mode object's tables are not chained, so finished calls die young.
 */
export class IdTable<V> {
  private entries: Record<number, V> = Object.create(null) as Record<number, V>;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): V | undefined {
    return this.entries[id];
  }

  has(id: number): boolean {
    return this.entries[id] !== undefined;
  }

  set(id: number, value: V): void {
    if (this.entries[id] === undefined) this.count++;
    this.entries[id] = value;
  }

  delete(id: number): boolean {
    if (this.entries[id] === undefined) return false;
    this.count--;
    delete this.entries[id];
    return true;
  }

  /** A snapshot: safe to change the table while walking it. */
  keys(): number[] {
    return Object.keys(this.entries).map(Number);
  }

  /** A snapshot: safe to change the table while walking it. */
  values(): V[] {
    return Object.values(this.entries);
  }

  clear(): void {
    this.entries = Object.create(null) as Record<number, V>;
    this.count = 0;
  }
}
