/**
 * Auth across processes: accounts and rules made with the `micro auth` CLI in the file store,
 * services started with MICRO_AUTH=jwt reading them, calls from the CLI and from a client with
 * tokens the CLI issued: 401 without a token or with an expired one, 403 without the scope, 200
 * with it; a service identity calling another protected service, its token renewed across
 * several expiries under continuous calls without a failed call.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { generateKeyPair } from "../../src/auth/jwt.js";
import { createClient, MicroError } from "../../src/index.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { quiet } from "../setup/logger.js";
import { fixture, runCli, type ServiceProcess, startProcess, stopAll, tempRegistry } from "./harness.js";

describe("auth across processes", () => {
  const registryDir = tempRegistry();
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-auth-"));
  const keys = generateKeyPair();
  const env = {
    MICRO_REGISTRY_ADDRESS: registryDir,
    MICRO_STORE_ADDRESS: storeDir,
    MICRO_AUTH: "jwt",
    MICRO_AUTH_PUBLIC_KEY: keys.publicKey,
    MICRO_AUTH_PRIVATE_KEY: keys.privateKey,
  };
  const processes: ServiceProcess[] = [];
  const registry = new LocalRegistry({ path: registryDir });
  const secrets: Record<string, string> = {};

  const micro = async (...args: string[]) => {
    const result = await runCli(args, env);
    assert.equal(result.code, 0, `micro ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  };
  const token = async (id: string, ...more: string[]) => (await micro("auth", "token", "--id", id, "--secret", secrets[id], ...more)).trim();

  before(async () => {
    for (const [id, scopes, type] of [
      ["alice", "greeter", "user"],
      ["bob", "other", "user"],
      ["relay", "greeter", "service"],
    ]) {
      const account = JSON.parse(await micro("auth", "account", "create", id, "--scopes", scopes, "--type", type));
      assert.deepEqual(account.scopes, scopes.split(","));
      secrets[id] = account.secret;
    }
    await micro("auth", "rules", "grant", "greeter-hello", "--resource", "service:greeter:Greeter.Hello", "--scope", "greeter");
    await micro("auth", "rules", "grant", "relay-public", "--resource", "service:relay:*", "--scope", "");
    processes.push(await startProcess(fixture("greeter-service"), env));
    processes.push(
      await startProcess(fixture("auth-relay-service"), { ...env, MICRO_AUTH_ID: "relay", MICRO_AUTH_SECRET: secrets.relay, MICRO_AUTH_TOKEN_EXPIRY: "2s" }),
    );
  });

  after(async () => {
    stopAll(processes);
    await registry.close();
    fs.rmSync(storeDir, { recursive: true, force: true });
  });

  const callError = async (...args: string[]) => {
    const { code, stdout, stderr } = await runCli(["call", "greeter", "Greeter.Hello", '{"name":"Ada"}', ...args], env);
    assert.equal(code, 1, stdout);
    return JSON.parse(stderr) as { id: string; code: number; detail: string; status: string };
  };

  it("micro auth: keys as eval-able lines, rules listed by priority, revoked, and bad input refused with the usage", async () => {
    const printed = await micro("auth", "keys");
    assert.match(printed, /^MICRO_AUTH_PUBLIC_KEY=[A-Za-z0-9+/=]+\nMICRO_AUTH_PRIVATE_KEY=[A-Za-z0-9+/=]+\n$/);
    await micro("auth", "rules", "grant", "temp", "--resource", "service:other", "--scope", "*", "--deny", "--priority", "7");
    const listed = (await micro("auth", "rules", "list")).trim().split("\n");
    assert.deepEqual(listed[0].split("\t"), ["ID", "SCOPE", "ACCESS", "PRIORITY", "RESOURCE"]);
    assert.deepEqual(listed[1].split("\t"), ["temp", '"*"', "denied", "7", "service:other:*"]);
    const json = JSON.parse(await micro("auth", "rules", "list", "--json")) as Array<{ id: string }>;
    assert.deepEqual(
      json.map((r) => r.id),
      ["temp", "greeter-hello", "relay-public"],
    );
    await micro("auth", "rules", "revoke", "temp");
    assert.ok(!(await micro("auth", "rules", "list")).includes("temp"));
    const noScope = await runCli(["auth", "rules", "grant", "x", "--resource", "service:greeter"], env);
    assert.equal(noScope.code, 2);
    assert.match(noScope.stderr, /needs --scope/);
    const badPriority = await runCli(["auth", "rules", "grant", "x", "--resource", "service:greeter", "--scope", "a", "--priority", "high"], env);
    assert.equal(badPriority.code, 1);
    assert.match(badPriority.stderr, /priority must be a 32-bit integer/);
    const taken = await runCli(["auth", "account", "create", "alice"], env);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /already exists/);
  });

  it("no token: 401 in Go Micro's error shape, with the service's name as id", async () => {
    assert.deepEqual(await callError(), { id: "greeter", code: 401, detail: "missing authorization token", status: "Unauthorized" });
  });

  it("a token with the scope: 200, by --token and by MICRO_AUTH_TOKEN", async () => {
    const aliceToken = await token("alice");
    assert.equal(await micro("call", "greeter", "Greeter.Hello", '{"name":"Ada"}', "--token", aliceToken), '{"msg":"Hello Ada"}\n');
    const viaEnv = await runCli(["call", "greeter", "Greeter.Hello", '{"name":"Env"}'], { ...env, MICRO_AUTH_TOKEN: aliceToken });
    assert.equal(viaEnv.stdout, '{"msg":"Hello Env"}\n', viaEnv.stderr);
  });

  it("a token without the scope: 403", async () => {
    const error = await callError("--token", await token("bob"));
    assert.equal(error.code, 403);
    assert.equal(error.id, "greeter");
    assert.equal(error.detail, "access denied to Greeter.Hello");
  });

  it("an expired token: 401", async () => {
    const short = await token("alice", "--expiry", "1s");
    const exp = JSON.parse(Buffer.from(short.split(".")[1], "base64url").toString()).exp as number;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now()) + 100));
    const error = await callError("--token", short);
    assert.equal(error.code, 401);
    assert.match(error.detail, /expired/);
  });

  it("garbage, oversized and foreign tokens: 401, and the service keeps serving", async () => {
    const foreign = generateKeyPair();
    const forged = (
      await runCli(["auth", "token", "--id", "alice", "--secret", secrets.alice], {
        ...env,
        MICRO_AUTH_PUBLIC_KEY: foreign.publicKey,
        MICRO_AUTH_PRIVATE_KEY: foreign.privateKey,
      })
    ).stdout.trim();
    for (const bad of ["garbage", forged, "x".repeat(20_000)]) assert.equal((await callError("--token", bad)).code, 401);
    assert.equal(await micro("call", "greeter", "Greeter.Hello", '{"name":"Ada"}', "--token", await token("alice")), '{"msg":"Hello Ada"}\n');
  });

  it("a service identity calls another protected service; its token is renewed across expiries with no failed call", async () => {
    const client = createClient({ registry, logger: quiet, retries: 0 });
    try {
      const tokensSeen = new Set<number>();
      let calls = 0;
      const failures: string[] = [];
      // About four token lifetimes of 2 s, four callers at a time, bounded in time and count.
      const until = Date.now() + 8_000;
      const caller = async () => {
        while (Date.now() < until && calls < 200_000) {
          try {
            const reply = await client.call<{ msg: string }>("relay", "Relay.Hello", { name: `n${calls}` });
            assert.match(reply.msg, /^Hello n/);
            calls++;
          } catch (err) {
            failures.push(err instanceof MicroError ? err.toString() : String(err));
          }
        }
      };
      const watcher = async () => {
        while (Date.now() < until) {
          const { exp } = await client.call<{ exp: number | null }>("relay", "Relay.Token", {});
          if (exp !== null) tokensSeen.add(exp);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      };
      await Promise.all([caller(), caller(), caller(), caller(), watcher()]);
      assert.deepEqual(failures.slice(0, 5), []);
      assert.ok(calls > 0);
      assert.ok(tokensSeen.size >= 3, `the relay's token was renewed (saw ${tokensSeen.size} distinct tokens)`);
    } finally {
      await client.close();
    }
  });
});
