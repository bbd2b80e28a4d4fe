/**
 * Access through the MCP gateway with auth on (MICRO_AUTH=jwt, accounts and rules made with the
 * `micro auth` CLI): a caller's token decides which tools it sees and may call. Orders.Place
 * carries `scopes: orders` in its metadata; a rule lets any account reach the greeter service.
 * A token without the scope neither sees nor calls the tool (over HTTP with a bearer token, over
 * stdio with MICRO_AUTH_TOKEN); a caller without a token sees nothing; a bad token is a 401; each
 * call leaves one audit line.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { generateKeyPair } from "../../src/auth/jwt.js";
import { fixture, runCli, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { until } from "../setup/wait.js";
import { connectHttp, connectStdio, type Gateway, post, startHttpGateway } from "./harness.js";

describe("MCP gateway: scopes and rules", () => {
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-mcp-auth-"));
  const keys = generateKeyPair();
  const env = {
    MICRO_REGISTRY_ADDRESS: tempRegistry(),
    MICRO_STORE_ADDRESS: storeDir,
    MICRO_AUTH: "jwt",
    MICRO_AUTH_PUBLIC_KEY: keys.publicKey,
    MICRO_AUTH_PRIVATE_KEY: keys.privateKey,
    MICRO_AUTH_TOKEN_EXPIRY: "1h",
  };
  const processes: ServiceProcess[] = [];
  let gateway: Gateway;
  const tokens: Record<string, string> = {};
  const secrets: Record<string, string> = {};

  const micro = async (...args: string[]) => {
    const result = await runCli(args, env, 30_000);
    assert.equal(result.code, 0, `micro ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  };

  before(async () => {
    for (const [id, scopes] of [
      ["alice", "greeter,orders"],
      ["bob", "greeter"],
    ]) {
      const { secret } = JSON.parse(await micro("auth", "account", "create", id, "--scopes", scopes));
      secrets[id] = secret;
      tokens[id] = (await micro("auth", "token", "--id", id, "--secret", secret, "--expiry", "1h")).trim();
    }
    await micro("auth", "rules", "grant", "greeter-any-account", "--resource", "service:greeter:*", "--scope", "*");
    processes.push(await startProcess(fixture("mcp-service"), env, 30_000));
    gateway = await startHttpGateway(env);
  });

  after(() => {
    stopAll(processes);
    gateway?.child.kill("SIGKILL");
    fs.rmSync(storeDir, { recursive: true, force: true });
  });

  const names = async (token?: string) => {
    const connected = await connectHttp(gateway.url, token);
    try {
      return (await connected.client.listTools()).tools.map((t) => t.name).sort();
    } finally {
      await connected.close();
    }
  };

  it("HTTP: a bearer token without the tool's scope neither sees nor calls it; one with it does both", async () => {
    assert.ok(!(await names(tokens.bob)).includes("greeter.Orders.Place"));
    assert.ok((await names(tokens.bob)).includes("greeter.Greeter.Hello"));
    assert.ok((await names(tokens.alice)).includes("greeter.Orders.Place"));

    const place = { name: "greeter.Orders.Place", arguments: { customer: { name: "Ada" }, items: [{ sku: "a", qty: 1 }] } };
    const bob = await connectHttp(gateway.url, tokens.bob);
    try {
      const refused = await bob.client.callTool(place);
      assert.equal(refused.isError, true);
      assert.equal((refused.structuredContent as { error: { code: number } }).error.code, 403);
      const hello = await bob.client.callTool({ name: "greeter.Greeter.Hello", arguments: { name: "Ada" } });
      assert.deepEqual(hello.structuredContent, { msg: "Hello Ada" });
    } finally {
      await bob.close();
    }
    const alice = await connectHttp(gateway.url, tokens.alice);
    try {
      const placed = await alice.client.callTool(place);
      assert.deepEqual(placed.structuredContent, { id: "order-1", count: 1, customer: "Ada" });
    } finally {
      await alice.close();
    }
    await until(
      () => /"tool":"greeter.Orders.Place","account":"bob","outcome":"denied"/.test(gateway.output()),
      5_000,
      () => `no audit line for bob's refused call:\n${gateway.output()}`,
    );
    await until(
      () => /"tool":"greeter.Orders.Place","account":"alice","outcome":"ok".*"durationMs":[\d.]+/.test(gateway.output()),
      5_000,
      () => `no audit line for alice's call:\n${gateway.output()}`,
    );
  });

  it("HTTP: no token sees no tool (no rule is public); a bad token is a 401", async () => {
    assert.deepEqual(await names(undefined), []);
    const initialize = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } },
    };
    const bad = await post(gateway.url, JSON.stringify(initialize), { Authorization: "Bearer not-a-token" });
    assert.equal(bad.status, 401);
    assert.match(bad.json?.error?.message ?? "", /invalid token/);
    const notBearer = await post(gateway.url, JSON.stringify(initialize), { Authorization: "Basic abc" });
    assert.equal(notBearer.status, 401);
  });

  it("stdio: the caller is MICRO_AUTH_TOKEN or the account of MICRO_AUTH_ID/SECRET; without the scope the tool is neither listed nor callable", async () => {
    const connected = await connectStdio({ ...env, MICRO_AUTH_TOKEN: tokens.bob });
    try {
      const listed = (await connected.client.listTools()).tools.map((t) => t.name);
      assert.ok(listed.includes("greeter.Greeter.Hello") && !listed.includes("greeter.Orders.Place"), listed.join(", "));
      const refused = await connected.client.callTool({ name: "greeter.Orders.Place", arguments: { customer: { name: "A" }, items: [{ sku: "a", qty: 1 }] } });
      assert.equal(refused.isError, true);
    } finally {
      await connected.close();
    }
    // Credentials instead of a token: the gateway gets (and renews) the account's tokens itself.
    const withCredentials = await connectStdio({ ...env, MICRO_AUTH_ID: "alice", MICRO_AUTH_SECRET: secrets.alice });
    try {
      const listed = (await withCredentials.client.listTools()).tools.map((t) => t.name);
      assert.ok(listed.includes("greeter.Orders.Place"), listed.join(", "));
    } finally {
      await withCredentials.close();
    }
    const cliCall = await runCli(
      ["mcp", "call", "greeter.Orders.Place", '{"customer":{"name":"A"},"items":[{"sku":"a","qty":1}]}'],
      {
        ...env,
        MICRO_AUTH_TOKEN: tokens.alice,
      },
      30_000,
    );
    assert.equal(cliCall.code, 0, cliCall.stderr);
    assert.deepEqual(JSON.parse(cliCall.stdout), { id: "order-1", count: 1, customer: "A" });
  });
});
