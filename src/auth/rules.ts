/**
 * Go Micro's rule verification (`auth/rules.go: Verify`), with its one gap closed in the
 * contract rather than here: a resource that no rule covers is denied.
 *
 * 1. A rule covers a resource when its type, name and endpoint each equal the resource's
 *    (case-insensitively) or are `*`; an endpoint path `/foo/bar` is also covered by `/*`,
 *    `/foo/*` and `/foo/bar/*`. Dotted endpoints get no prefix wildcards (`Greeter.*` does not
 *    cover `Greeter.Hello`), as in Go Micro.
 * 2. Covering rules are taken by priority, highest first; at equal priority a denial comes first
 *    (Go Micro keeps insertion order there, so its outcome depends on the order rules were added).
 * 3. The first rule that applies to the caller decides: scope `""` applies to everyone, `"*"` to
 *    any account, any other scope to accounts that hold it (case-insensitively).
 * 4. No rule applies: denied.
 */
import type { Account } from "../metadata/account.js";
import { type Access, badAuthInput, type Resource, type Rule, SCOPE_ACCOUNT, SCOPE_PUBLIC } from "./auth.js";

const WILDCARD = "*";
const INT32_MAX = 2 ** 31 - 1;

/** Rules in the order verification reads them: priority descending, denials first, then id. */
export function sortRules(rules: readonly Rule[]): Rule[] {
  return [...rules].sort((a, b) => b.priority - a.priority || accessRank(a.access) - accessRank(b.access) || compare(a.id, b.id));
}

function accessRank(access: Access): number {
  return access === "denied" ? 0 : 1;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether `account` may reach `resource` under `sorted` (rules as sortRules orders them). */
export function verifyAccess(sorted: readonly Rule[], account: Account | undefined, resource: Resource): boolean {
  const endpoints = endpointPatterns(resource.endpoint);
  for (const rule of sorted) {
    if (!covers(rule.resource, resource, endpoints)) continue;
    if (!appliesTo(rule.scope, account)) continue;
    return rule.access === "granted";
  }
  return false;
}

/** Most resources a CompiledRules remembers the covering rules of; past it, it starts over. */
const MAX_RESOURCES = 10_000;

/**
 * The same answers as verifyAccess, cheap enough for every call: the rules covering a resource
 * are found once per resource (type, name, endpoint), and the decision for an account once per
 * (account object, resource). Services hand the same frozen account object to every call with
 * the same token (server/authorize.ts), so a known caller's check is two map lookups. Built for
 * one set of rules: a rule change means a new CompiledRules, which is how its caches go stale.
 */
export class CompiledRules {
  /** type → name → endpoint → the covering rules, in verification order. */
  private readonly covering = new Map<string, Map<string, Map<string, readonly Rule[]>>>();
  private resources = 0;
  /** Per account: covering rules → decision. Weak, so accounts dropped by the token cache go. */
  private readonly decisions = new WeakMap<Account, Map<readonly Rule[], boolean>>();
  private readonly anonymous = new Map<readonly Rule[], boolean>();

  constructor(readonly sorted: readonly Rule[]) {}

  verify(account: Account | undefined, resource: Resource): boolean {
    const rules = this.rulesFor(resource);
    let decisions = account === undefined ? this.anonymous : this.decisions.get(account);
    if (decisions === undefined) {
      decisions = new Map();
      this.decisions.set(account!, decisions);
    }
    let decision = decisions.get(rules);
    if (decision === undefined) {
      if (decisions.size >= MAX_RESOURCES) decisions.clear();
      decision = decide(rules, account);
      decisions.set(rules, decision);
    }
    return decision;
  }

  private rulesFor(resource: Resource): readonly Rule[] {
    let names = this.covering.get(resource.type);
    if (names === undefined) {
      names = new Map();
      this.covering.set(resource.type, names);
    }
    let endpoints = names.get(resource.name);
    if (endpoints === undefined) {
      endpoints = new Map();
      names.set(resource.name, endpoints);
    }
    let rules = endpoints.get(resource.endpoint);
    if (rules === undefined) {
      if (this.resources >= MAX_RESOURCES) {
        // Endpoint names come from callers: a caller inventing them must not grow this without end.
        this.covering.clear();
        this.resources = 0;
        return this.rulesFor(resource);
      }
      const patterns = endpointPatterns(resource.endpoint);
      rules = this.sorted.filter((rule) => covers(rule.resource, resource, patterns));
      endpoints.set(resource.endpoint, rules);
      this.resources++;
    }
    return rules;
  }
}

/** The first covering rule that applies to the caller decides; none: denied. */
function decide(covering: readonly Rule[], account: Account | undefined): boolean {
  for (const rule of covering) if (appliesTo(rule.scope, account)) return rule.access === "granted";
  return false;
}

function covers(pattern: Resource, resource: Resource, endpoints: readonly string[]): boolean {
  return (
    matches(pattern.type, resource.type) &&
    matches(pattern.name, resource.name) &&
    (matches(pattern.endpoint, resource.endpoint) || endpoints.some((e) => equalFold(e, pattern.endpoint)))
  );
}

function matches(pattern: string, value: string): boolean {
  return pattern === WILDCARD || equalFold(pattern, value);
}

/** The path wildcards that cover an endpoint path: `/foo/bar` → `/*`, `/foo/*`, `/foo/bar/*`. */
function endpointPatterns(endpoint: string): string[] {
  if (!endpoint.includes("/")) return [];
  const parts = endpoint.split("/");
  const out: string[] = [];
  for (let i = 1; i <= parts.length; i++) out.push(`${parts.slice(0, i).join("/")}/*`);
  return out;
}

function appliesTo(scope: string, account: Account | undefined): boolean {
  if (scope === SCOPE_PUBLIC) return true;
  if (!account) return false;
  if (scope === SCOPE_ACCOUNT) return true;
  return account.scopes.some((s) => equalFold(s, scope));
}

function equalFold(a: string, b: string): boolean {
  return a === b || a.toLowerCase() === b.toLowerCase();
}

/** `service:greeter:Greeter.Hello` → a Resource; a missing name or endpoint is `*`. */
export function parseResource(text: string): Resource {
  const [type, name = WILDCARD, ...rest] = text.split(":");
  const endpoint = rest.length > 0 ? rest.join(":") : WILDCARD;
  if (!type) throw badAuthInput(`resource ${JSON.stringify(text)}: expected TYPE:NAME:ENDPOINT, e.g. service:greeter:Greeter.Hello`);
  return { type, name: name || WILDCARD, endpoint: endpoint || WILDCARD };
}

/** `service:greeter:Greeter.Hello`. */
export function formatResource(resource: Resource): string {
  return `${resource.type}:${resource.name}:${resource.endpoint}`;
}

/** A rule read from untrusted input (a store, the CLI, a caller), checked field by field. */
export function checkedRule(input: unknown): Rule {
  if (typeof input !== "object" || input === null) throw badAuthInput("a rule must be an object");
  const rule = input as Partial<Rule>;
  if (typeof rule.id !== "string" || rule.id === "" || rule.id.length > 256) throw badAuthInput("a rule needs an id (1 to 256 characters)");
  if (typeof rule.scope !== "string") throw badAuthInput(`rule ${rule.id}: scope must be a string ("" public, "*" any account, or a scope)`);
  if (rule.access !== "granted" && rule.access !== "denied") throw badAuthInput(`rule ${rule.id}: access must be "granted" or "denied"`);
  const priority = rule.priority ?? 0;
  if (!Number.isInteger(priority) || Math.abs(priority) > INT32_MAX) throw badAuthInput(`rule ${rule.id}: priority must be a 32-bit integer`);
  const resource = rule.resource as Partial<Resource> | undefined;
  for (const part of ["type", "name", "endpoint"] as const) {
    if (typeof resource?.[part] !== "string" || resource[part] === "")
      throw badAuthInput(`rule ${rule.id}: resource.${part} must be a non-empty string (or "*")`);
  }
  return {
    id: rule.id,
    scope: rule.scope,
    access: rule.access,
    priority,
    resource: { type: resource!.type!, name: resource!.name!, endpoint: resource!.endpoint! },
  };
}
