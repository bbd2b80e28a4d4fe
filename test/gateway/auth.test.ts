/**
 * The gateway with auth configured: it checks the Bearer token and the rules before calling
 * (401 without or with a bad token, 403 when no rule lets the account in), for calls, WebSocket
 * streams and publishing, and forwards the token to the service as the call's Authorization.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import type { Rule } from "../../src/auth/auth.js";
import { generateKeyPair, JwtAuth } from "../../src/auth/jwt.js";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { MemoryStore } from "../../src/store/memory.js";
import { fixture, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { quiet } from "../setup/logger.js";
import { post } from "./http.js";

function grant(id: string, scope: string, type: string, name: string, endpoint: string): Rule {
  return { id, scope, access: "granted", priority: 0, resource: { type, name, endpoint } };
}

describe("gateway auth", () => {
  const dir = tempRegistry();
  const registry = new LocalRegistry({ path: dir });
  const auth = new JwtAuth({ ...generateKeyPair(), store: new MemoryStore() });
  let service: ServiceProcess;
  let gateway: Gateway;
  let alice: string;
  let bob: string;

  before(async () => {
    service = await startProcess(fixture("gateway-service"), { MICRO_REGISTRY_ADDRESS: dir });
    await auth.rules.grant(grant("hello", "greeter", "service", "gw", "Greeter.Hello"));
    await auth.rules.grant(grant("whoami", "greeter", "service", "gw", "Probe.Whoami"));
    await auth.rules.grant(grant("echo", "greeter", "service", "gw", "Greeter.Echo"));
    await auth.rules.grant(grant("count", "", "service", "gw", "Greeter.Count"));
    await auth.rules.grant(grant("publish", "publisher", "topic", "gw.events", "publish"));
    const a = await auth.generate("alice", { scopes: ["greeter"] });
    const b = await auth.generate("bob", { scopes: ["other"] });
    alice = (await auth.token({ id: "alice", secret: a.secret })).accessToken;
    bob = (await auth.token({ id: "bob", secret: b.secret })).accessToken;
    gateway = await createGateway({ address: "127.0.0.1:0", registry, auth, logger: quiet });
  });
  after(async () => {
    await gateway.close();
    stopAll([service]);
    await registry.close();
    await auth.close();
  });

  it("refuses calls without a valid token (401) or a rule that lets the account in (403)", async () => {
    const hello = `${gateway.url}/api/gw/Greeter/Hello`;
    const none = await post(hello, { name: "Ada" });
    assert.equal(none.status, 401);
    assert.equal(none.json().detail, "missing authorization token");
    const forged = await post(hello, { name: "Ada" }, { Authorization: "Bearer not.a.token" });
    assert.equal(forged.status, 401);
    const notBearer = await post(hello, { name: "Ada" }, { Authorization: `Basic ${alice}` });
    assert.equal(notBearer.status, 401);
    const denied = await post(hello, { name: "Ada" }, { Authorization: `Bearer ${bob}` });
    assert.equal(denied.status, 403);
    assert.match(String(denied.json().detail), /Greeter\.Hello/);
    const allowed = await post(hello, { name: "Ada" }, { Authorization: `Bearer ${alice}` });
    assert.equal(allowed.status, 200, allowed.text);
    assert.deepEqual(allowed.json(), { msg: "Hello Ada" });
    const unruled = await post(`${gateway.url}/api/gw/Probe/Fail`, { code: 500 }, { Authorization: `Bearer ${alice}` });
    assert.equal(unruled.status, 403, "no rule covers Probe.Fail");
  });

  it("lets a public rule through without a token", async () => {
    const reply = await post(`${gateway.url}/api/gw/Greeter/Count`, { to: 2 });
    assert.equal(reply.status, 200, reply.text);
  });

  it("forwards the caller's token to the service", async () => {
    const reply = await post(`${gateway.url}/api/gw/Probe/Whoami`, {}, { Authorization: `Bearer ${alice}` });
    const { metadata } = reply.json<{ metadata: Record<string, string> }>();
    assert.equal(metadata.Authorization, `Bearer ${alice}`);
  });

  it("checks WebSocket streams before the upgrade", async () => {
    const url = `${gateway.url.replace("http", "ws")}/api/gw/Greeter/Echo`;
    const refused = new WebSocket(url, { headers: { Authorization: `Bearer ${bob}` } });
    const status = await new Promise<number>((resolve) => refused.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)));
    assert.equal(status, 403);
    const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${alice}` } });
    const messages: unknown[] = [];
    ws.on("message", (data) => messages.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    ws.send(JSON.stringify({ text: "hi" }));
    ws.send("");
    await new Promise((resolve) => ws.once("close", resolve));
    assert.deepEqual(messages, [{ text: "hi" }]);
  });

  it("takes a browser's token as the WebSocket subprotocols [bearer, token]", async () => {
    const url = `${gateway.url.replace("http", "ws")}/api/gw/Greeter/Echo`;
    const refused = new WebSocket(url, ["bearer", bob]);
    const status = await new Promise<number>((resolve) => refused.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)));
    assert.equal(status, 403);
    const ws = new WebSocket(url, ["bearer", alice]);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    assert.equal(ws.protocol, "bearer");
    const echoed = new Promise((resolve) => ws.once("message", (data) => resolve(JSON.parse(String(data)))));
    ws.send(JSON.stringify({ text: "from a browser" }));
    assert.deepEqual(await echoed, { text: "from a browser" });
    ws.close();
  });

  it("checks publishing against topic:<topic>:publish", async () => {
    const url = `${gateway.url}/api/publish/gw.events`;
    assert.equal((await post(url, { id: 1 })).status, 401);
    assert.equal((await post(url, { id: 1 }, { Authorization: `Bearer ${alice}` })).status, 403);
  });
});
