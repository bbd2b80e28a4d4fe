/**
 * The conformance suite every rules store runs: Go Micro's verification table (wildcards,
 * priority, public and any-account scopes, named scopes), the fixes to it (a denial wins at
 * equal priority whatever the order rules were added in; a resource no rule covers is denied),
 * grant/revoke/list, bad input, and two instances over one backend seeing the same rules.
 * Each test works in a table of its own.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Account, Resource, Rule, Rules } from "../../src/auth/auth.js";
import { MicroError } from "../../src/errors/errors.js";
import { eventually } from "../setup/wait.js";
import { freshTable } from "./store.js";

const TEST = { timeout: 20_000 };

export interface RulesConformanceOptions {
  /** Rules kept in `table`; two calls with one table must share their rules. */
  create: (table: string) => Promise<Rules> | Rules;
  /** Fails, saying how to start it, when the backend's server is down. */
  preflight?: () => Promise<void>;
  cleanup?: () => Promise<void>;
}

const GREETER_HELLO: Resource = { type: "service", name: "greeter", endpoint: "Greeter.Hello" };

function account(...scopes: string[]): Account {
  return { id: "alice", type: "user", issuer: "go.micro", scopes, metadata: {} };
}

function rule(id: string, scope: string, resource: Partial<Resource> = {}, more: Partial<Rule> = {}): Rule {
  return { id, scope, access: "granted", priority: 0, resource: { type: "service", name: "greeter", endpoint: "Greeter.Hello", ...resource }, ...more };
}

function isBadRequest(err: unknown): boolean {
  return err instanceof MicroError && err.code === 400;
}

export function rulesConformance(name: string, options: RulesConformanceOptions): void {
  describe(`Rules conformance: ${name}`, () => {
    const opened: Rules[] = [];
    const open = async (table = freshTable()): Promise<Rules> => {
      const rules = await options.create(table);
      opened.push(rules);
      return rules;
    };
    after(async () => {
      await Promise.all(opened.map((r) => r.close()));
      await options.cleanup?.();
    });
    /** A fresh table holding `given`. */
    const withRules = async (...given: Rule[]): Promise<Rules> => {
      const rules = await open();
      for (const r of given) await rules.grant(r);
      return rules;
    };

    it("opens", TEST, async () => {
      await options.preflight?.();
      assert.deepEqual(await (await open()).list(), []);
    });

    it("denies what no rule covers, with or without an account", TEST, async () => {
      const rules = await withRules(rule("other", "*", { name: "billing" }));
      assert.equal(await rules.verify(undefined, GREETER_HELLO), false);
      assert.equal(await rules.verify(account("admin", "*"), GREETER_HELLO), false);
    });

    it('public scope "" lets in callers without an account, and accounts', TEST, async () => {
      const rules = await withRules(rule("public", ""));
      assert.equal(await rules.verify(undefined, GREETER_HELLO), true);
      assert.equal(await rules.verify(account(), GREETER_HELLO), true);
    });

    it('any-account scope "*" needs an account, any scopes', TEST, async () => {
      const rules = await withRules(rule("accounts", "*"));
      assert.equal(await rules.verify(undefined, GREETER_HELLO), false);
      assert.equal(await rules.verify(account(), GREETER_HELLO), true);
    });

    it("a named scope lets in accounts holding it (case-insensitively), no one else", TEST, async () => {
      const rules = await withRules(rule("admins", "admin"));
      assert.equal(await rules.verify(account("admin"), GREETER_HELLO), true);
      assert.equal(await rules.verify(account("user", "ADMIN"), GREETER_HELLO), true);
      assert.equal(await rules.verify(account("user"), GREETER_HELLO), false);
      assert.equal(await rules.verify(account(), GREETER_HELLO), false);
      assert.equal(await rules.verify(undefined, GREETER_HELLO), false);
    });

    it("wildcards: * for type, name or endpoint; resource parts compare case-insensitively", TEST, async () => {
      const all = await withRules(rule("all", "*", { type: "*", name: "*", endpoint: "*" }));
      assert.equal(await all.verify(account(), GREETER_HELLO), true);
      assert.equal(await all.verify(account(), { type: "topic", name: "events", endpoint: "x" }), true);
      const service = await withRules(rule("greeter", "*", { endpoint: "*" }));
      assert.equal(await service.verify(account(), { ...GREETER_HELLO, endpoint: "Greeter.Bye" }), true);
      assert.equal(await service.verify(account(), { ...GREETER_HELLO, name: "billing" }), false);
      const folded = await withRules(rule("folded", "*", { type: "SERVICE", name: "Greeter", endpoint: "greeter.hello" }));
      assert.equal(await folded.verify(account(), GREETER_HELLO), true);
    });

    it("endpoint paths: /foo/* covers /foo/bar and deeper; dotted endpoints get no prefix wildcard", TEST, async () => {
      const paths = await withRules(rule("foo", "*", { endpoint: "/foo/*" }));
      assert.equal(await paths.verify(account(), { ...GREETER_HELLO, endpoint: "/foo/bar" }), true);
      assert.equal(await paths.verify(account(), { ...GREETER_HELLO, endpoint: "/foo/bar/baz" }), true);
      assert.equal(await paths.verify(account(), { ...GREETER_HELLO, endpoint: "/food" }), false);
      const dotted = await withRules(rule("dotted", "*", { endpoint: "Greeter.*" }));
      assert.equal(await dotted.verify(account(), GREETER_HELLO), false);
    });

    it("priority: the highest covering rule that applies decides", TEST, async () => {
      const denyHigh = await withRules(rule("grant", "*", { endpoint: "*" }, { priority: 1 }), rule("deny", "*", {}, { access: "denied", priority: 10 }));
      assert.equal(await denyHigh.verify(account(), GREETER_HELLO), false);
      assert.equal(await denyHigh.verify(account(), { ...GREETER_HELLO, endpoint: "Greeter.Bye" }), true);
      const grantHigh = await withRules(rule("deny", "*", { endpoint: "*" }, { access: "denied", priority: 1 }), rule("grant", "admin", {}, { priority: 10 }));
      assert.equal(await grantHigh.verify(account("admin"), GREETER_HELLO), true);
      // The higher grant does not apply to this account, so the lower denial decides.
      assert.equal(await grantHigh.verify(account("user"), GREETER_HELLO), false);
    });

    it("a denial beats a grant at equal priority, whichever was added first", TEST, async () => {
      const grantFirst = await withRules(rule("a-grant", "*"), rule("b-deny", "*", {}, { access: "denied" }));
      const denyFirst = await withRules(rule("b-deny", "*", {}, { access: "denied" }), rule("a-grant", "*"));
      const denyIdFirst = await withRules(rule("z-grant", "*"), rule("a-deny", "*", {}, { access: "denied" }));
      for (const rules of [grantFirst, denyFirst, denyIdFirst]) assert.equal(await rules.verify(account(), GREETER_HELLO), false);
    });

    it("a public denial shuts out accounts too", TEST, async () => {
      const rules = await withRules(rule("grant", "admin"), rule("closed", "", {}, { access: "denied" }));
      assert.equal(await rules.verify(account("admin"), GREETER_HELLO), false);
    });

    it("grant replaces a rule with the same id; revoke removes it; list is by priority", TEST, async () => {
      const rules = await withRules(rule("r1", "admin", {}, { priority: 1 }), rule("r2", "*", { endpoint: "*" }, { priority: 5 }));
      assert.deepEqual(
        (await rules.list()).map((r) => r.id),
        ["r2", "r1"],
      );
      await rules.grant(rule("r1", "user", {}, { priority: 9 }));
      const listed = await rules.list();
      assert.deepEqual(
        listed.map((r) => [r.id, r.scope, r.priority]),
        [
          ["r1", "user", 9],
          ["r2", "*", 5],
        ],
      );
      assert.deepEqual(listed[0], rule("r1", "user", {}, { priority: 9 }));
      await rules.revoke("r2");
      await rules.revoke("never-granted");
      assert.deepEqual(
        (await rules.list()).map((r) => r.id),
        ["r1"],
      );
      assert.equal(await rules.verify(account("other"), GREETER_HELLO), false);
      await rules.revoke("r1");
      assert.equal(await rules.verify(account("user"), GREETER_HELLO), false);
    });

    it("refuses malformed rules with a 400 and keeps the rules it had", TEST, async () => {
      const rules = await withRules(rule("kept", "*"));
      const bad: unknown[] = [
        null,
        { ...rule("", "*") },
        { ...rule("x", "*"), access: "maybe" },
        { ...rule("x", "*"), priority: 1.5 },
        { ...rule("x", "*"), priority: 2 ** 40 },
        { ...rule("x", "*"), resource: { type: "service", name: "", endpoint: "*" } },
        { ...rule("x", "*"), resource: undefined },
        { ...rule("x", "*"), scope: 7 },
      ];
      for (const input of bad) await assert.rejects(rules.grant(input as Rule), isBadRequest, JSON.stringify(input));
      assert.deepEqual(
        (await rules.list()).map((r) => r.id),
        ["kept"],
      );
    });

    it("two instances over one backend share rules: a grant and a revoke on one reach the other", TEST, async () => {
      const table = freshTable();
      const first = await open(table);
      const second = await open(table);
      assert.equal(await second.verify(account(), GREETER_HELLO), false);
      await first.grant(rule("shared", "*"));
      await eventually(async () => assert.equal(await second.verify(account(), GREETER_HELLO), true), 10_000, 50);
      await first.revoke("shared");
      await eventually(async () => assert.equal(await second.verify(account(), GREETER_HELLO), false), 10_000, 50);
    });
  });
}
