/**
 * Checked tokens, so a token is verified once rather than on every call: a signature check costs
 * about half a millisecond, a lookup here well under a microsecond. An entry lives until its
 * token expires and no longer; the cache holds at most `capacity` tokens, dropping the oldest.
 * A JWT's claims cannot change without its signature changing, so a cached answer is the answer
 * a fresh check would give until the expiry.
 *
 * Entries are found by the token's last 12 characters and then compared whole: every call brings
 * its token as a new string, and hashing all of it (hundreds of characters) cost several times
 * the rest of the check. The end of a JWT is its signature, so two live tokens share a key only
 * by chance; the later one then replaces the earlier, which is just a miss.
 */
import type { Account } from "../metadata/account.js";

const KEY_LENGTH = 12;

interface Entry {
  token: string;
  account: Account;
  expiresAt: number;
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  /**
   * The entry found last: the transport hands a caller's token back as the same string call after
   * call, and comparing a string with itself is a pointer check, cheaper than slicing a key and
   * hashing it.
   */
  private last: Entry | undefined;

  constructor(private readonly capacity = 10_000) {}

  get(token: string, now = Date.now()): Account | undefined {
    const last = this.last;
    if (last !== undefined && last.token === token && now < last.expiresAt) return last.account;
    const key = keyOf(token);
    const entry = this.entries.get(key);
    if (!entry || entry.token !== token) return undefined;
    if (now >= entry.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    this.last = entry;
    return entry.account;
  }

  /** Keeps `account` for `token` until `expiresAt` (ms since the epoch). */
  set(token: string, account: Account, expiresAt: number): void {
    if (this.capacity <= 0) return;
    const key = keyOf(token);
    this.entries.delete(key);
    this.last = undefined; // it may be the entry replaced or dropped here
    while (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { token, account: frozen(account), expiresAt });
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.last = undefined;
  }
}

function keyOf(token: string): string {
  return token.length > KEY_LENGTH ? token.slice(-KEY_LENGTH) : token;
}

/** One account object is handed to every call with the token, so none may change it for the others. */
function frozen(account: Account): Account {
  Object.freeze(account.scopes);
  Object.freeze(account.metadata);
  return Object.freeze(account);
}
