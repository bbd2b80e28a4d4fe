/**
 * Checked tokens, so a token is verified once rather than on every call: a signature check costs
 * about half a millisecond, a lookup here well under a microsecond. An entry lives until its
 * token expires and no longer; the cache holds at most `capacity` tokens, dropping the oldest.
 * A JWT's claims cannot change without its signature changing, so a cached answer is the answer
 * a fresh check would give until the expiry.
 */
import type { Account } from "../metadata/account.js";

export class TokenCache {
  private readonly entries = new Map<string, { account: Account; expiresAt: number }>();

  constructor(private readonly capacity = 10_000) {}

  get(token: string, now = Date.now()): Account | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (now >= entry.expiresAt) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.account;
  }

  /** Keeps `account` for `token` until `expiresAt` (ms since the epoch). */
  set(token: string, account: Account, expiresAt: number): void {
    if (this.capacity <= 0) return;
    this.entries.delete(token);
    while (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(token, { account: frozen(account), expiresAt });
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}

/** One account object is handed to every call with the token, so none may change it for the others. */
function frozen(account: Account): Account {
  Object.freeze(account.scopes);
  Object.freeze(account.metadata);
  return Object.freeze(account);
}
