import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import { InvalidTokenError } from "../../src/auth/auth.js";
import { generateKeyPair, JwtAuth, MAX_TOKEN_LENGTH } from "../../src/auth/jwt.js";
import { MicroError } from "../../src/errors/errors.js";
import { MemoryStore } from "../../src/store/memory.js";

const keys = generateKeyPair();
const otherKeys = generateKeyPair();

function auth(options: Partial<ConstructorParameters<typeof JwtAuth>[0]> = {}): JwtAuth {
  return new JwtAuth({ store: new MemoryStore(), ...keys, ...options });
}

const hasCode = (code: number) => (err: unknown) => err instanceof MicroError && err.code === code;

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
}

describe("jwt auth", () => {
  it("generates an account, exchanges its credentials for a token, and inspects the token back", async () => {
    const a = auth();
    const account = await a.generate("alice", { scopes: ["admin", "greeter"], metadata: { team: "core" } });
    assert.equal(account.type, "user");
    assert.equal(account.issuer, "go.micro");
    assert.ok(account.secret && account.secret.length >= 24);
    const token = await a.token({ id: "alice", secret: account.secret });
    assert.ok(token.expiry.getTime() > Date.now() && token.expiry.getTime() <= Date.now() + 61_000);
    const inspected = await a.inspect(token.accessToken);
    assert.deepEqual(inspected, { id: "alice", type: "user", issuer: "go.micro", scopes: ["admin", "greeter"], metadata: { team: "core" } });
  });

  it("generates secrets a command line takes as they are: hex, never starting with a dash", async () => {
    const a = auth();
    for (let i = 0; i < 100; i++) {
      const { secret } = await a.generate(`user-${i}`);
      assert.match(secret ?? "", /^[0-9a-f]{48}$/);
    }
  });

  it("writes Go Micro's header and claims: RS256, {type, scopes, metadata, exp, iss, sub}", async () => {
    const a = auth();
    const { secret } = await a.generate("svc", { type: "service", scopes: ["a"] });
    const { accessToken } = await a.token({ id: "svc", secret: secret! });
    assert.deepEqual(JSON.parse(Buffer.from(accessToken.split(".")[0], "base64url").toString()), { alg: "RS256", typ: "JWT" });
    const c = claims(accessToken);
    assert.deepEqual(Object.keys(c).sort(), ["exp", "iss", "metadata", "scopes", "sub", "type"]);
    assert.equal(c.sub, "svc");
    assert.equal(c.type, "service");
    assert.equal(c.iss, "go.micro");
    assert.equal(typeof c.exp, "number");
  });

  it("refuses wrong credentials and unknown accounts alike (401), and a second account with one id (409)", async () => {
    const a = auth();
    await a.generate("bob", { secret: "right" });
    await assert.rejects(a.token({ id: "bob", secret: "wrong" }), hasCode(401));
    await assert.rejects(a.token({ id: "nobody", secret: "right" }), hasCode(401));
    await assert.rejects(a.generate("bob"), hasCode(409));
    await assert.rejects(a.token({ id: "bob" }), hasCode(400));
    await assert.rejects(a.generate("has space"), hasCode(400));
    await assert.rejects(a.generate("x", { scopes: ["a,b"] }), hasCode(400));
  });

  it("refresh tokens get new tokens with the account's current state, and are no access tokens", async () => {
    const store = new MemoryStore();
    const a = auth({ store });
    const { secret } = await a.generate("carol", { scopes: ["old"] });
    const first = await a.token({ id: "carol", secret: secret!, expiry: 5_000 });
    await assert.rejects(a.inspect(first.refreshToken), (err) => err instanceof InvalidTokenError && /refresh token/.test(err.detail));
    await assert.rejects(a.token({ refreshToken: first.accessToken }), hasCode(401));
    const next = await a.token({ refreshToken: first.refreshToken });
    assert.equal((await a.inspect(next.accessToken)).id, "carol");
    await a.deleteAccount("carol");
    await assert.rejects(a.token({ refreshToken: next.refreshToken }), hasCode(401));
  });

  it("refuses garbage, other keys, alg none, HS256 with the public key, missing exp and oversized tokens with 401", async () => {
    const a = auth();
    const other = auth(otherKeys);
    const { secret } = await other.generate("mallory", { scopes: ["admin"] });
    const forged = (await other.token({ id: "mallory", secret: secret! })).accessToken;
    const exp = Math.floor(Date.now() / 1000) + 60;
    const body = b64url({ sub: "mallory", type: "user", scopes: ["admin"], metadata: null, exp });
    const none = `${b64url({ alg: "none", typ: "JWT" })}.${body}.`;
    const hsInput = `${b64url({ alg: "HS256", typ: "JWT" })}.${body}`;
    const hs256 = `${hsInput}.${createHmac("sha256", Buffer.from(keys.publicKey, "base64")).update(hsInput).digest("base64url")}`;
    const { privateKey } = await import("node:crypto").then((c) => ({ privateKey: c.createPrivateKey(Buffer.from(keys.privateKey, "base64").toString()) }));
    const { SignJWT } = await import("jose");
    const noExp = await new SignJWT({ type: "user", scopes: [] }).setProtectedHeader({ alg: "RS256" }).setSubject("x").sign(privateKey);
    const tampered = (() => {
      const [h, , s] = forged.split(".");
      return `${h}.${b64url({ ...claims(forged), scopes: ["root"] })}.${s}`;
    })();
    const garbage = ["", "x", "a.b.c", "....", "Bearer", "é".repeat(50), forged, tampered, none, hs256, noExp, `${forged}x`, "a".repeat(MAX_TOKEN_LENGTH + 1)];
    for (const token of garbage) await assert.rejects(a.inspect(token), hasCode(401), token.slice(0, 40));
  });

  it("an expired token is refused", async () => {
    const a = auth();
    const { secret } = await a.generate("dave");
    const { accessToken, expiry } = await a.token({ id: "dave", secret: secret!, expiry: 1_000 });
    assert.equal((await a.inspect(accessToken)).id, "dave");
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiry.getTime() - Date.now()) + 50));
    await assert.rejects(a.inspect(accessToken), hasCode(401));
  });

  it("a node with only the public key checks tokens and cannot issue them", async () => {
    const store = new MemoryStore();
    const issuer = auth({ store });
    const checker = new JwtAuth({ store, publicKey: keys.publicKey });
    const { secret } = await issuer.generate("erin");
    const { accessToken } = await issuer.token({ id: "erin", secret: secret! });
    assert.equal((await checker.inspect(accessToken)).id, "erin");
    await assert.rejects(checker.token({ id: "erin", secret: secret! }), hasCode(500));
  });

  it("takes keys as base64 PEM: PKCS#1 or PKCS#8 private, PKIX or PKCS#1 public; refuses other keys with 400", () => {
    const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const b64 = (pem: string | Buffer) => Buffer.from(pem).toString("base64");
    new JwtAuth({ store: new MemoryStore(), privateKey: b64(pair.privateKey.export({ type: "pkcs8", format: "pem" })) });
    new JwtAuth({ store: new MemoryStore(), publicKey: b64(pair.publicKey.export({ type: "pkcs1", format: "pem" })) });
    new JwtAuth({ store: new MemoryStore(), publicKey: keys.publicKey, privateKey: keys.privateKey });
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    assert.throws(() => new JwtAuth({ store: new MemoryStore(), publicKey: b64(ec.publicKey.export({ type: "spki", format: "pem" })) }), hasCode(400));
    assert.throws(() => new JwtAuth({ store: new MemoryStore(), publicKey: "bm90IGEga2V5" }), hasCode(400));
    assert.throws(() => new JwtAuth({ store: new MemoryStore() }), hasCode(400));
  });
});
