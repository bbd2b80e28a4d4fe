/**
 * Metadata: string key/value pairs that travel with a call or a message, as Go Micro's
 * `metadata.Metadata`. Keys compare case-insensitively (HTTP canonicalises them, gRPC lowercases
 * them), but each key keeps the spelling it was first set with, so headers go out as written.
 */
export type MetadataInit = Metadata | Record<string, string> | Iterable<readonly [string, string]>;

export class Metadata implements Iterable<[string, string]> {
  /** lowercased key → [key as written, value] */
  private readonly entries_ = new Map<string, [string, string]>();

  constructor(init?: MetadataInit) {
    if (init) this.merge(init);
  }

  get(key: string): string | undefined {
    return this.entries_.get(key.toLowerCase())?.[1];
  }

  has(key: string): boolean {
    return this.entries_.has(key.toLowerCase());
  }

  set(key: string, value: string): this {
    const lower = key.toLowerCase();
    const existing = this.entries_.get(lower);
    this.entries_.set(lower, [existing ? existing[0] : key, value]);
    return this;
  }

  delete(key: string): boolean {
    return this.entries_.delete(key.toLowerCase());
  }

  get size(): number {
    return this.entries_.size;
  }

  /** Copies every pair of `other` in; `overwrite: false` keeps values already present. */
  merge(other: MetadataInit, overwrite = true): this {
    const pairs = other instanceof Metadata ? other : Symbol.iterator in other ? (other as Iterable<readonly [string, string]>) : Object.entries(other);
    for (const [key, value] of pairs) {
      if (overwrite || !this.has(key)) this.set(key, value);
    }
    return this;
  }

  clone(): Metadata {
    return new Metadata(this);
  }

  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (const pair of this.entries_.values()) yield [pair[0], pair[1]];
  }

  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, value] of this.entries_.values()) out[key] = value;
    return out;
  }
}
