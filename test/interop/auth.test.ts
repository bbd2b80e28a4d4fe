/**
 * Auth between Go Micro v5 and ts-micro with one key pair: tokens minted by Go Micro's jwt token
 * provider are accepted by ts-micro and the other way round; a Go Micro client with a Bearer
 * token calls a protected ts-micro service (401/403/200); a ts-micro client with a ts-micro
 * token calls a Go Micro service behind wrapper/auth's AuthHandler.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { generateKeyPair, JwtAuth } from "../../src/auth/jwt.js";
import { StoreRules } from "../../src/auth/store-rules.js";
import { createClient, MicroError } from "../../src/index.js";
import { FileStore } from "../../src/store/file.js";
import { HttpTransport } from "../../src/transport/http/http.js";
import { fixture, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { buildGoPrograms, type GoProcess, runGo, startGo } from "./go.js";

interface GoResult {
  token?: string;
  account?: { id: string; type: string; issuer: string; scopes: string[] | null };
  msg?: string;
  error?: string | { id: string; code: number; detail: string; status: string };
}

const keys = generateKeyPair();
const keyEnv = { MICRO_AUTH_PUBLIC_KEY: keys.publicKey, MICRO_AUTH_PRIVATE_KEY: keys.privateKey };
const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-auth-interop-"));
const store = new FileStore({ dir: storeDir });
const auth = new JwtAuth({ store, ...keys });

/** A ts-micro access token for a fresh account with `scopes`. */
async function tsToken(id: string, scopes: string[]): Promise<string> {
  const { secret } = await auth.generate(id, { scopes });
  return (await auth.token({ id, secret: secret! })).accessToken;
}

function goAuth(env: Record<string, string>): Promise<GoResult> {
  return runGo<GoResult>("auth", { ...keyEnv, ...env });
}

after(async () => {
  await auth.close();
  await store.close();
  fs.rmSync(storeDir, { recursive: true, force: true });
});

describe("Go Micro ⇄ ts-micro JWT tokens", () => {
  before(() => buildGoPrograms());

  it("a token minted by Go Micro is accepted by ts-micro, with its claims", async () => {
    const { token } = await goAuth({ INTEROP_MODE: "mint", INTEROP_ACCOUNT: "go-user", INTEROP_SCOPES: "greeter,admin" });
    assert.ok(token);
    assert.deepEqual(await new JwtAuth({ store, publicKey: keys.publicKey }).inspect(token), {
      id: "go-user",
      type: "user",
      issuer: "go.micro",
      scopes: ["greeter", "admin"],
      metadata: {},
    });
  });

  it("a token minted by ts-micro is accepted by Go Micro; one signed with another key is not", async () => {
    const token = await tsToken("ts-user", ["hello"]);
    const { account } = await goAuth({ INTEROP_MODE: "inspect", INTEROP_TOKEN: token });
    assert.equal(account?.id, "ts-user");
    assert.equal(account?.issuer, "go.micro");
    assert.deepEqual(account?.scopes, ["hello"]);
    const other = new JwtAuth({ store: new FileStore({ dir: storeDir }), ownsStore: true, ...generateKeyPair() });
    const { secret } = await other.generate("forger", { scopes: ["hello"] });
    const forged = (await other.token({ id: "forger", secret: secret! })).accessToken;
    await other.close();
    const refused = await goAuth({ INTEROP_MODE: "inspect", INTEROP_TOKEN: forged });
    assert.equal(refused.account, undefined);
    assert.ok(refused.error);
  });
});

describe("Go Micro client with a Bearer token → protected ts-micro service", () => {
  let server: ServiceProcess;
  const call = (token: string) =>
    goAuth({
      INTEROP_MODE: "call",
      INTEROP_SERVICE: "tshello",
      INTEROP_ENDPOINT: "Helloworld.Call",
      INTEROP_ADDRESS: server.address,
      INTEROP_NAME_ARG: "John",
      INTEROP_TOKEN: token,
    });

  before(async () => {
    await buildGoPrograms();
    await new StoreRules({ store }).grant({
      id: "tshello",
      scope: "greeter",
      access: "granted",
      priority: 0,
      resource: { type: "service", name: "tshello", endpoint: "Helloworld.Call" },
    });
    server = await startProcess(fixture("../interop/ts-helloworld"), {
      ...keyEnv,
      MICRO_AUTH: "jwt",
      MICRO_STORE_ADDRESS: storeDir,
      MICRO_REGISTRY_ADDRESS: tempRegistry(),
    });
  });
  after(() => stopAll([server]));

  it("with a Go Micro token holding the scope: the call runs", async () => {
    const { token } = await goAuth({ INTEROP_MODE: "mint", INTEROP_ACCOUNT: "go-user", INTEROP_SCOPES: "greeter" });
    assert.deepEqual(await call(token!), { msg: "Hello John from ts-micro" });
  });

  it("without the scope: 403; with no valid token: 401 — Go Micro reads both errors", async () => {
    const { token } = await goAuth({ INTEROP_MODE: "mint", INTEROP_ACCOUNT: "go-user", INTEROP_SCOPES: "other" });
    assert.deepEqual((await call(token!)).error, { id: "tshello", code: 403, detail: "access denied to Helloworld.Call", status: "Forbidden" });
    assert.equal(((await call("garbage")).error as { code: number }).code, 401);
  });
});

describe("ts-micro client with a ts-micro token → Go Micro service behind wrapper/auth", () => {
  let server: GoProcess;
  let address: string;

  before(async () => {
    server = await startGo("auth", { ...keyEnv, INTEROP_MODE: "serve" });
    address = server.address.replace(/^\[::\]|^0\.0\.0\.0/, "127.0.0.1");
  });
  after(() => server?.stop());

  const call = async (token?: string) => {
    const client = createClient({ transport: new HttpTransport(), retries: 0, token });
    try {
      return await client.call<{ msg: string }>("gohello", "Helloworld.Call", { name: "Ada" }, { address });
    } finally {
      await client.close();
    }
  };

  it("Go Micro's AuthHandler accepts the ts-micro token and its rules see the scopes", async () => {
    assert.deepEqual(await call(await tsToken("alice", ["hello"])), { msg: "Hello Ada from alice" });
  });

  it("a ts-micro token without the scope gets Go Micro's 403, no token its 401", async () => {
    await assert.rejects(call(await tsToken("bob", ["other"])), (err) => err instanceof MicroError && err.code === 403 && err.id === "gohello");
    await assert.rejects(call(), (err) => err instanceof MicroError && err.code === 401 && err.id === "gohello");
  });
});
