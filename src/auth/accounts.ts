/**
 * Accounts kept in a store (`<table>` default `auth`, keys `account/<id>`), so every node that
 * shares the store can exchange an account's credentials for a token. Secrets are stored as
 * scrypt hashes with a random salt, never as given.
 */
import { nodeCrypto, randomBytes } from "../driver/crypto.js";
import { MicroError } from "../errors/errors.js";
import type { Account } from "../metadata/account.js";
import { jsonTable } from "../store/json-table.js";
import type { Store } from "../store/store.js";
import { AUTH_ERROR_ID, badAuthInput, type GenerateOptions } from "./auth.js";
import { DEFAULT_AUTH_TABLE } from "./store-rules.js";

const ACCOUNT_PREFIX = "account/";
const ID_PATTERN = /^[A-Za-z0-9._@:-]{1,128}$/;
const SCOPE_PATTERN = /^[^\s,]{1,128}$/;

interface StoredAccount {
  id: string;
  type: string;
  issuer: string;
  scopes: string[];
  metadata: Record<string, string>;
  /** `scrypt:<salt>:<hash>`, base64url. */
  secretHash: string;
  created: string;
}

export interface AccountStoreOptions {
  store: Store;
  database?: string;
  table?: string;
}

export class AccountStore {
  private readonly table;

  constructor(options: AccountStoreOptions) {
    this.table = jsonTable<StoredAccount>(options.store, { database: options.database, table: options.table ?? DEFAULT_AUTH_TABLE });
  }

  /**
   * Creates and stores an account (type default `user`, a random secret unless one is given)
   * and returns it with its secret, which is not kept in clear and cannot be shown again.
   */
  async generate(id: string, issuer: string, options: GenerateOptions = {}): Promise<Account> {
    // Hex, not base64url: a secret that starts with "-" reads as an option on a command line
    // (`micro auth token --secret -x…` was refused as an ambiguous option).
    const secret = options.secret ?? randomBytes(24).toString("hex");
    const account = { id, type: options.type ?? "user", issuer, scopes: options.scopes ?? [], metadata: options.metadata ?? {} };
    await this.create(account, secret);
    return { ...account, secret };
  }

  /** Stores a new account with `secret`; 409 if the id is taken. */
  async create(account: Omit<Account, "secret">, secret: string): Promise<void> {
    checkAccount(account);
    if (!secret) throw badAuthInput("an account needs a secret");
    if (await this.table.get(ACCOUNT_PREFIX + account.id)) throw new MicroError(AUTH_ERROR_ID, 409, `account ${account.id} already exists`);
    await this.table.put(ACCOUNT_PREFIX + account.id, {
      id: account.id,
      type: account.type,
      issuer: account.issuer,
      scopes: [...account.scopes],
      metadata: { ...account.metadata },
      secretHash: await hashSecret(secret),
      created: new Date().toISOString(),
    });
  }

  /** The account (without its secret), or undefined. */
  async get(id: string): Promise<Account | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    const stored = await this.table.get(ACCOUNT_PREFIX + id);
    return stored && publicAccount(stored);
  }

  /** The account if `secret` is its secret; undefined for an unknown id or a wrong secret alike. */
  async verify(id: string, secret: string): Promise<Account | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    const stored = await this.table.get(ACCOUNT_PREFIX + id);
    if (!stored || !(await secretMatches(secret, stored.secretHash))) return undefined;
    return publicAccount(stored);
  }

  async delete(id: string): Promise<void> {
    await this.table.delete(ACCOUNT_PREFIX + id);
  }

  async list(): Promise<Account[]> {
    const keys = await this.table.keys({ prefix: ACCOUNT_PREFIX });
    const accounts = await Promise.all(keys.map((key) => this.table.get(key)));
    return accounts.filter((a): a is StoredAccount => a !== undefined).map(publicAccount);
  }
}

function publicAccount(stored: StoredAccount): Account {
  return { id: stored.id, type: stored.type, issuer: stored.issuer, scopes: stored.scopes, metadata: stored.metadata };
}

function checkAccount(account: Omit<Account, "secret">): void {
  if (!ID_PATTERN.test(account.id)) throw badAuthInput(`account id ${JSON.stringify(account.id)}: 1 to 128 letters, digits or . _ @ : -`);
  if (!account.type) throw badAuthInput(`account ${account.id}: a type is required (user or service)`);
  for (const scope of account.scopes) {
    if (!SCOPE_PATTERN.test(scope))
      throw badAuthInput(`account ${account.id}: scope ${JSON.stringify(scope)} must be 1 to 128 characters without spaces or commas`);
  }
}

function derive(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => nodeCrypto().scrypt(secret, salt, 32, (err, key) => (err ? reject(err) : resolve(key))));
}

async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  return `scrypt:${salt.toString("base64url")}:${(await derive(secret, salt)).toString("base64url")}`;
}

async function secretMatches(secret: string, hash: string): Promise<boolean> {
  const [scheme, salt, expected] = hash.split(":");
  if (scheme !== "scrypt" || !salt || !expected) return false;
  const actual = await derive(secret, Buffer.from(salt, "base64url"));
  const want = Buffer.from(expected, "base64url");
  return actual.length === want.length && nodeCrypto().timingSafeEqual(actual, want);
}
