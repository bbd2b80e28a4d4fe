/**
 * Enforcement inside one process, over the real mux transport: every call and message delivery is
 * checked, 401 and 403 as Go Micro's, the account on ctx, public rules, service identities, and
 * forwarding of the caller's identity.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Rule } from "../../src/auth/auth.js";
import { generateKeyPair, JwtAuth } from "../../src/auth/jwt.js";
import { MemoryBroker } from "../../src/broker/memory.js";
import { type Context, createClient, createService, MicroError, type Service } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { MemoryStore } from "../../src/store/memory.js";
import { LogRecorder, quiet } from "../setup/logger.js";
import { until } from "../setup/wait.js";

const keys = generateKeyPair();

function grant(id: string, scope: string, name: string, endpoint: string, type = "service"): Rule {
  return { id, scope, access: "granted", priority: 0, resource: { type, name, endpoint } };
}

const is = (code: number, id: string, detail?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof MicroError, String(err));
  assert.equal(err.code, code, err.toString());
  assert.equal(err.id, id);
  if (detail) assert.match(err.detail, detail);
  return true;
};

class Greeter {
  async Hello(req: { name: string }, ctx: Context): Promise<{ msg: string; account?: string }> {
    return { msg: `Hello ${req.name}`, account: ctx.account?.id };
  }
  async Secret(): Promise<{ ok: boolean }> {
    return { ok: true };
  }
  async Public(_req: unknown, ctx: Context): Promise<{ account: string | null }> {
    return { account: ctx.account?.id ?? null };
  }
  async *Count(req: { to: number }): AsyncIterable<{ n: number }> {
    for (let n = 1; n <= req.to; n++) yield { n };
  }
}

describe("auth enforcement", () => {
  const registry = new MemoryRegistry();
  const broker = new MemoryBroker({ logger: quiet });
  const store = new MemoryStore();
  const auth = new JwtAuth({ store, ...keys });
  const services: Service[] = [];
  const clients: ReturnType<typeof createClient>[] = [];
  const received: Array<{ id: unknown; account: string | undefined }> = [];
  const log = new LogRecorder();
  let greeterToken: string;
  let plainToken: string;

  const client = (token?: string) => {
    const c = createClient({ registry, broker, token, logger: quiet });
    clients.push(c);
    return c;
  };

  before(async () => {
    for (const rule of [
      grant("hello", "greeter", "greeter", "Greeter.Hello"),
      grant("count", "greeter", "greeter", "Greeter.Count"),
      grant("public", "", "greeter", "Greeter.Public"),
      grant("frontend", "", "frontend", "*"),
      grant("events", "publisher", "user.created", "*", "topic"),
    ])
      await auth.rules.grant(rule);
    const greeterAccount = await auth.generate("alice", { scopes: ["greeter", "publisher"] });
    const plainAccount = await auth.generate("bob", { scopes: ["other"] });
    await auth.generate("frontend", { type: "service", scopes: ["greeter"], secret: "frontend-secret" });
    greeterToken = (await auth.token({ id: "alice", secret: greeterAccount.secret! })).accessToken;
    plainToken = (await auth.token({ id: "bob", secret: plainAccount.secret! })).accessToken;

    const greeter = createService({ name: "greeter", registry, broker, auth, logger: log });
    greeter.handle(new Greeter());
    greeter.subscribe("user.created", (payload: { id: number }, ctx) => void received.push({ id: payload.id, account: ctx.account?.id }));
    services.push(greeter);
    for (const forward of [false, true]) {
      const frontend = createService({
        name: forward ? "frontend-forwarding" : "frontend",
        registry,
        broker,
        auth,
        logger: quiet,
        identity: { id: "frontend", secret: "frontend-secret", forward },
      });
      frontend.handle(
        {
          Front: async (req: { name: string }, ctx: Context) => frontend.client.call("greeter", "Greeter.Hello", req, { ctx }),
        },
        { name: "Frontend" },
      );
      services.push(frontend);
    }
    await auth.rules.grant(grant("frontend-forwarding", "", "frontend-forwarding", "*"));
    for (const s of services) await s.start();
  });

  after(async () => {
    for (const c of clients) await c.close();
    for (const s of services) await s.stop();
    await registry.close();
  });

  it("no token: 401 from the service, with Go Micro's error shape", async () => {
    await assert.rejects(client().call("greeter", "Greeter.Hello", { name: "x" }), is(401, "greeter", /missing authorization token/));
  });

  it("a token with the scope: the call runs and the handler sees the account", async () => {
    assert.deepEqual(await client(greeterToken).call("greeter", "Greeter.Hello", { name: "Ada" }), { msg: "Hello Ada", account: "alice" });
  });

  it("a valid token without the scope: 403; an endpoint no rule covers: 403 even with scopes", async () => {
    await assert.rejects(client(plainToken).call("greeter", "Greeter.Hello", { name: "x" }), is(403, "greeter", /access denied to Greeter.Hello/));
    await assert.rejects(client(greeterToken).call("greeter", "Greeter.Secret", {}), is(403, "greeter"));
  });

  it("bad tokens: garbage, another key's, alg none, wrong scheme, oversized: 401, and the service keeps serving", async () => {
    const other = new JwtAuth({ store: new MemoryStore(), ...generateKeyPair() });
    const mallory = await other.generate("alice", { scopes: ["greeter"] });
    const forged = (await other.token({ id: "alice", secret: mallory.secret! })).accessToken;
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${greeterToken.split(".")[1]}.`;
    const values = [`Bearer ${forged}`, `Bearer ${none}`, "Bearer garbage", `Basic ${greeterToken}`, "Bearer ", `Bearer ${"a".repeat(32 * 1024)}`];
    for (const value of values) {
      await assert.rejects(
        client().call("greeter", "Greeter.Hello", { name: "x" }, { metadata: { Authorization: value } }),
        is(401, "greeter"),
        value.slice(0, 30),
      );
    }
    assert.equal(((await client(greeterToken).call("greeter", "Greeter.Hello", { name: "still" })) as { msg: string }).msg, "Hello still");
  });

  it("a token that expires after it was checked (and remembered) is refused from then on", async () => {
    const { secret } = await auth.generate("short-lived", { scopes: ["greeter"] });
    const { accessToken, expiry } = await auth.token({ id: "short-lived", secret: secret!, expiry: 1_000 });
    const caller = client(accessToken);
    assert.equal(((await caller.call("greeter", "Greeter.Hello", { name: "a" })) as { account: string }).account, "short-lived");
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiry.getTime() - Date.now()) + 50));
    await assert.rejects(caller.call("greeter", "Greeter.Hello", { name: "b" }), is(401, "greeter", /expired/));
  });

  it("a public rule lets callers in without a token (ctx.account empty), and with one (ctx.account set)", async () => {
    assert.deepEqual(await client().call("greeter", "Greeter.Public", {}), { account: null });
    assert.deepEqual(await client(greeterToken).call("greeter", "Greeter.Public", {}), { account: "alice" });
  });

  it("streams are checked too", async () => {
    const read = async (token?: string) => {
      const out: number[] = [];
      for await (const m of client(token).stream<{ n: number }>("greeter", "Greeter.Count", { to: 3 })) out.push(m.n);
      return out;
    };
    assert.deepEqual(await read(greeterToken), [1, 2, 3]);
    await assert.rejects(read(), is(401, "greeter"));
    await assert.rejects(read(plainToken), is(403, "greeter"));
  });

  it("a service identity calls another protected service with its own token, not its caller's", async () => {
    // The outer caller has no token (frontend is public); frontend calls greeter as itself.
    assert.deepEqual(await client().call("frontend", "Frontend.Front", { name: "via" }), { msg: "Hello via", account: "frontend" });
    assert.deepEqual(await client(plainToken).call("frontend", "Frontend.Front", { name: "via" }), { msg: "Hello via", account: "frontend" });
  });

  it("with forward, the caller's token goes on instead (and its rights apply)", async () => {
    assert.deepEqual(await client(greeterToken).call("frontend-forwarding", "Frontend.Front", { name: "fw" }), { msg: "Hello fw", account: "alice" });
    await assert.rejects(client(plainToken).call("frontend-forwarding", "Frontend.Front", { name: "fw" }), is(403, "greeter"));
    // No caller token to forward: the service's own identity is used.
    assert.deepEqual(await client().call("frontend-forwarding", "Frontend.Front", { name: "fw" }), { msg: "Hello fw", account: "frontend" });
  });

  it("message deliveries are checked: a permitted sender's message arrives with its account, others are dropped and logged", async () => {
    await client().publish("user.created", { id: 1 });
    await client(plainToken).publish("user.created", { id: 2 });
    await client(greeterToken).publish("user.created", { id: 3 });
    await until(() => received.length >= 1 && log.lines.filter((l) => l.msg.startsWith("dropped a message")).length >= 2, 5_000, "deliveries");
    assert.deepEqual(received, [{ id: 3, account: "alice" }]);
    const dropped = log.lines.filter((l) => l.msg.startsWith("dropped a message")).map((l) => l.fields.code);
    assert.deepEqual(dropped, [401, 403]);
  });
});
