/**
 * Registry record signatures (what a forged record can and cannot reuse) and the compiled rules
 * behind the per-call check (the same answers as the reference algorithm, and no stale answer
 * after a rule change).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Account, Rule } from "../../src/auth/auth.js";
import { generateKeyPair } from "../../src/auth/jwt.js";
import { CompiledRules, sortRules, verifyAccess } from "../../src/auth/rules.js";
import { rsaKey, rsaSigner, rsaVerifier, verifierFromKeys } from "../../src/auth/signing.js";
import { StoreRules } from "../../src/auth/store-rules.js";
import type { Node } from "../../src/registry/registry.js";
import { NODE_SIGNATURE, signedContent } from "../../src/registry/signature.js";
import { MemoryStore } from "../../src/store/memory.js";

describe("registry record signatures", () => {
  const keys = generateKeyPair();
  const signer = rsaSigner(rsaKey(keys.privateKey, "private"));
  const verifier = verifierFromKeys({ publicKey: keys.publicKey });
  const service = { name: "greeter", version: "1.0.0" };
  const node: Node = { id: "greeter-1", address: "10.0.0.1:4000", metadata: { transport: "mux", protocol: "mucp" } };
  const signature = signer.sign(signedContent(service, node));
  const signed: Node = { ...node, metadata: { ...node.metadata, [NODE_SIGNATURE]: signature } };
  const valid = (s: typeof service, n: Node) => verifier.verify(signedContent(s, n), n.metadata?.[NODE_SIGNATURE] ?? "");

  it("a signed node verifies, whatever order its metadata comes back in", () => {
    assert.ok(valid(service, signed));
    const reordered: Node = { ...signed, metadata: { [NODE_SIGNATURE]: signature, protocol: "mucp", transport: "mux" } };
    assert.ok(valid(service, reordered));
  });

  it("the signature copied onto another address, id, name, version or metadata does not verify", () => {
    assert.equal(valid(service, { ...signed, address: "10.6.6.6:4000" }), false);
    assert.equal(valid(service, { ...signed, id: "greeter-2" }), false);
    assert.equal(valid({ ...service, name: "billing" }, signed), false);
    assert.equal(valid({ ...service, version: "2.0.0" }, signed), false);
    assert.equal(valid(service, { ...signed, metadata: { ...signed.metadata, transport: "http" } }), false);
    assert.equal(valid(service, { ...signed, metadata: { ...signed.metadata, extra: "1" } }), false);
  });

  it("another key pair's signature, and malformed ones, are refused without throwing", () => {
    const other = rsaSigner(rsaKey(generateKeyPair().privateKey, "private"));
    const data = signedContent(service, node);
    assert.equal(verifier.verify(data, other.sign(data)), false);
    for (const bad of ["", "rs256:", "rs256:!!!", signature.slice(6), `hs256:${signature.slice(6)}`, `rs256:${"A".repeat(100_000)}`]) {
      assert.equal(verifier.verify(data, bad), false, bad.slice(0, 20));
    }
  });

  it("a verifier needs a key: the public one, or the private one it derives it from", () => {
    assert.ok(verifierFromKeys({ privateKey: keys.privateKey }).verify(signedContent(service, node), signature));
    assert.throws(() => verifierFromKeys({}), /MICRO_AUTH_PUBLIC_KEY/);
    assert.throws(() => verifierFromKeys({ publicKey: "bm90IGEga2V5" }), /not a base64-encoded PEM/);
    assert.ok(rsaVerifier(rsaKey(keys.publicKey, "public")).verify(signedContent(service, node), signature));
  });
});

describe("compiled rules", () => {
  const rule = (id: string, scope: string, name: string, endpoint: string, access: Rule["access"] = "granted", priority = 0): Rule => ({
    id,
    scope,
    access,
    priority,
    resource: { type: "service", name, endpoint },
  });
  const rules = sortRules([
    rule("public", "", "web", "*"),
    rule("hello", "greeter", "greeter", "Greeter.Hello"),
    rule("deny-admin", "*", "greeter", "Greeter.Admin", "denied", 5),
    rule("admin", "admin", "greeter", "*", "granted", 5),
    rule("paths", "api", "api", "/v1/*"),
    rule("any", "*", "open", "*"),
  ]);
  const account = (scopes: string[]): Account => ({ id: scopes.join("+") || "none", type: "user", issuer: "go.micro", scopes, metadata: {} });
  const callers = [undefined, account([]), account(["greeter"]), account(["admin"]), account(["api"]), account(["GREETER"])];
  const resources = [
    ["web", "Site.Home"],
    ["greeter", "Greeter.Hello"],
    ["greeter", "Greeter.Admin"],
    ["greeter", "Greeter.Other"],
    ["api", "/v1/users/1"],
    ["api", "/v2/users"],
    ["open", "X.Y"],
    ["GREETER", "greeter.hello"],
  ].map(([name, endpoint]) => ({ type: "service", name, endpoint }));

  it("answer as the reference algorithm for every caller and resource, asked twice (cached)", () => {
    const compiled = new CompiledRules(rules);
    for (let round = 0; round < 2; round++) {
      for (const caller of callers) {
        for (const resource of resources) {
          assert.equal(
            compiled.verify(caller, resource),
            verifyAccess(rules, caller, resource),
            `${caller?.id ?? "anonymous"} → ${resource.name}:${resource.endpoint}`,
          );
        }
      }
    }
  });

  it("stay right past their resource bound (endpoint names a caller makes up)", () => {
    const compiled = new CompiledRules(rules);
    const caller = account(["api"]);
    for (let i = 0; i < 12_000; i++) assert.equal(compiled.verify(caller, { type: "service", name: "api", endpoint: `/v1/x/${i}` }), true);
    assert.equal(compiled.verify(caller, { type: "service", name: "api", endpoint: "/v2/x" }), false);
  });

  it("a grant or revoke through the store rules changes the next synchronous answer", async () => {
    const store = new MemoryStore();
    const stored = new StoreRules({ store, table: "compiled" });
    const caller = account(["greeter"]);
    const resource = { type: "service", name: "greeter", endpoint: "Greeter.Hello" };
    await stored.grant(rule("hello", "greeter", "greeter", "Greeter.Hello"));
    assert.equal(await stored.verify(caller, resource), true);
    assert.equal(stored.verifyNow(caller, resource), true);
    await stored.grant(rule("deny", "greeter", "greeter", "Greeter.Hello", "denied", 1));
    assert.equal(await stored.verify(caller, resource), false);
    assert.equal(stored.verifyNow(caller, resource), false);
    await stored.revoke("deny");
    assert.equal(await stored.verify(caller, resource), true);
    await stored.revoke("hello");
    assert.equal(await stored.verify(caller, resource), false);
    await store.close();
  });
});
