/**
 * Rules kept in a store (`<table>` default `auth`, keys `rule/<id>`), so they persist and every
 * node that shares the store enforces the same ones. Verification reads a snapshot, not the
 * store: each node rereads it every `refreshInterval` ms (default 2 s) while it is used, so a
 * rule granted or revoked on another node applies here within that time (plus one store read);
 * changes made through this instance apply at once. When the store cannot be read, checks fail
 * (500) rather than go on with rules older than two intervals. On a MemoryStore this is the single-process rules table.
 */
import { MicroError } from "../errors/errors.js";
import type { Account } from "../metadata/account.js";
import type { Store } from "../store/store.js";
import { AUTH_ERROR_ID, type Resource, type Rule, type Rules } from "./auth.js";
import { CompiledRules, checkedRule, sortRules } from "./rules.js";

export const DEFAULT_AUTH_TABLE = "auth";
const RULE_PREFIX = "rule/";
const decoder = new TextDecoder();

export interface StoreRulesOptions {
  store: Store;
  /** Default: the store's database. */
  database?: string;
  /** Default `auth`. */
  table?: string;
  /** Longest time a snapshot is used before it is read again, in ms (default 2 000). */
  refreshInterval?: number;
  /** Close the store on close() (default false: the store belongs to the caller). */
  ownsStore?: boolean;
}

export class StoreRules implements Rules {
  private readonly scope: { database?: string; table: string };
  private readonly refreshInterval: number;
  private snapshot: { rules: CompiledRules; at: number } | undefined;
  /** The last rules read and their JSON: a reread that finds the same rules keeps their caches. */
  private last: { rules: CompiledRules; json: string } | undefined;
  private loading: Promise<CompiledRules> | undefined;
  /** Bumped by every change made here, so a read that began before it is not kept. */
  private generation = 0;

  constructor(private readonly options: StoreRulesOptions) {
    this.scope = { database: options.database, table: options.table ?? DEFAULT_AUTH_TABLE };
    this.refreshInterval = options.refreshInterval ?? 2_000;
  }

  async grant(rule: Rule): Promise<void> {
    const checked = checkedRule(rule);
    await this.options.store.write({ key: RULE_PREFIX + checked.id, value: JSON.stringify(checked) }, this.scope);
    this.changed();
  }

  async revoke(id: string): Promise<void> {
    if (!id) throw MicroError.badRequest(AUTH_ERROR_ID, "revoke: a rule id is required");
    await this.options.store.delete(RULE_PREFIX + id, this.scope);
    this.changed();
  }

  private changed(): void {
    this.generation++;
    this.snapshot = undefined;
    this.loading = undefined;
    this.last = undefined;
  }

  async list(): Promise<Rule[]> {
    return [...(await this.load()).sorted];
  }

  verify(account: Account | undefined, resource: Resource): Promise<boolean> {
    const now = this.verifyNow(account, resource);
    if (now !== undefined) return Promise.resolve(now);
    return this.load().then((rules) => rules.verify(account, resource));
  }

  verifyNow(account: Account | undefined, resource: Resource): boolean | undefined {
    const snapshot = this.snapshot;
    if (!snapshot) return undefined;
    const age = Date.now() - snapshot.at;
    if (age >= this.refreshInterval) {
      // Reread in the background and answer from the last rules meanwhile, so calls do not queue
      // behind the read; rules older than two intervals (the store is not answering) are not used.
      if (!this.loading) this.load().catch(() => {});
      if (age >= 2 * this.refreshInterval) return undefined;
    }
    return snapshot.rules.verify(account, resource);
  }

  async close(): Promise<void> {
    if (this.options.ownsStore) await this.options.store.close();
  }

  /** The rules, sorted for verification; concurrent callers share one read. */
  private load(): Promise<CompiledRules> {
    if (this.loading) return this.loading;
    const loading = this.read().finally(() => {
      if (this.loading === loading) this.loading = undefined;
    });
    this.loading = loading;
    return loading;
  }

  private async read(): Promise<CompiledRules> {
    const at = Date.now();
    const generation = this.generation;
    const records = await this.options.store.read(RULE_PREFIX, { ...this.scope, prefix: true });
    const rules = records.map((record) => {
      try {
        return checkedRule(JSON.parse(decoder.decode(record.value)));
      } catch (err) {
        // Failing closed: skipping a rule that does not parse could drop a denial.
        throw MicroError.internal(AUTH_ERROR_ID, `rule record ${record.key} in the store is invalid: ${(err as Error).message}`);
      }
    });
    const sorted = sortRules(rules);
    const json = JSON.stringify(sorted);
    const compiled = this.last?.json === json ? this.last.rules : new CompiledRules(sorted);
    if (generation === this.generation) {
      this.snapshot = { rules: compiled, at };
      this.last = { rules: compiled, json };
    }
    return compiled;
  }
}
