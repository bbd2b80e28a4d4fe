/**
 * Request/response end to end in one process: real mux connections, a shared memory registry.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { LocalError } from "../../src/errors/errors.js";
import { type Context, createClient, createService, type HandlerWrapper, MicroError, roundRobin, type Service, type Strategy } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { MuxTransport } from "../../src/transport/mux/mux.js";
import { quiet } from "../setup/logger.js";

class Greeter {
  async Hello(req: { name: string }, _ctx: Context): Promise<{ msg: string }> {
    if (!req.name) throw MicroError.badRequest("greeter", "name is required");
    return { msg: `Hello ${req.name}` };
  }
  async Crash(): Promise<never> {
    throw new Error("secret database password in this message");
  }
  async Meta(_req: unknown, ctx: Context): Promise<{ trace?: string; caller?: string; remaining?: number }> {
    return { trace: ctx.metadata.get("x-trace-id"), caller: ctx.caller.service, remaining: ctx.deadline === undefined ? undefined : ctx.deadline - Date.now() };
  }
  timeouts = 0;
  /** Fails with a server-side 408 the first `req.failures` times. */
  async Flaky(req: { failures: number }): Promise<{ attempts: number }> {
    if (++this.timeouts <= req.failures) throw MicroError.timeout("greeter", "backend timed out");
    return { attempts: this.timeouts };
  }
  async Slow(req: { ms: number }, ctx: Context): Promise<{ aborted: boolean }> {
    await new Promise((resolve) => setTimeout(resolve, req.ms));
    return { aborted: ctx.signal.aborted };
  }
  _private(): void {}
}

class Relay {
  constructor(private readonly service: () => Service) {}
  /** Calls greeter.Meta, passing its own context on so the deadline and metadata carry over. */
  async Forward(_req: unknown, ctx: Context): Promise<unknown> {
    return this.service().client.call("greeter", "Greeter.Meta", {}, { ctx });
  }
}

/** Handlers that are not async functions: values, throws and thenables straight from the method. */
class Plain {
  Sum(req: { a: number; b: number }): { sum: number } {
    return { sum: req.a + req.b };
  }
  Refuse(): never {
    throw MicroError.forbidden("relay", "not you");
  }
  Break(): never {
    throw new Error("internal detail");
  }
  Nothing(): void {}
  /** A thenable that is not a Promise, as query builders return. */
  Deferred(req: { value: string }): PromiseLike<{ value: string }> {
    // biome-ignore lint/suspicious/noThenProperty: the handler deliberately returns a bare thenable to test that the server awaits one
    return { then: (resolve) => Promise.resolve(resolve?.({ value: req.value.toUpperCase() })) } as PromiseLike<{ value: string }>;
  }
}

describe("rpc over mux with a memory registry", () => {
  const registry = new MemoryRegistry();
  const order: string[] = [];
  const tag =
    (name: string): HandlerWrapper =>
    (next) =>
    async (req, ctx) => {
      order.push(`${name}>`);
      try {
        return await next(req, ctx);
      } finally {
        order.push(`<${name}`);
      }
    };
  const greeter = createService({ name: "greeter", registry, logger: quiet, wrapHandler: [tag("outer"), tag("inner")] });
  const handler = new Greeter();
  greeter.handle(handler);
  let relay: Service;
  relay = createService({ name: "relay", registry, logger: quiet });
  relay.handle(new Relay(() => relay));
  relay.handle(new Plain());
  const client = createClient({ registry, logger: quiet });

  before(async () => {
    await greeter.start();
    await relay.start();
  });
  after(async () => {
    client.close();
    await relay.stop();
    await greeter.stop();
    await registry.close();
  });

  it("registers the node with Go Micro's metadata and the endpoints", async () => {
    const [record] = await registry.getService("greeter");
    assert.equal(record.nodes.length, 1);
    const node = record.nodes[0];
    assert.match(node.id, /^greeter-[0-9a-f-]{36}$/);
    assert.match(node.address, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual({ ...node.metadata }, { transport: "mux", broker: "http", server: "mucp", registry: "memory", protocol: "mucp" });
    assert.deepEqual(
      record.endpoints?.map((e) => e.name),
      ["Greeter.Crash", "Greeter.Flaky", "Greeter.Hello", "Greeter.Meta", "Greeter.Slow"],
    );
  });

  it("calls an endpoint through the typed proxy", async () => {
    const proxy = client.service<{ Greeter: Greeter }>("greeter");
    const { msg } = await proxy.Greeter.Hello({ name: "Ada" });
    assert.equal(msg, "Hello Ada");
  });

  it("serves handlers that return values, throw or return thenables without being async", async () => {
    assert.deepEqual(await client.call("relay", "Plain.Sum", { a: 2, b: 3 }), { sum: 5 });
    await assert.rejects(client.call("relay", "Plain.Refuse", {}), (err: unknown) => err instanceof MicroError && err.code === 403 && err.detail === "not you");
    await assert.rejects(
      client.call("relay", "Plain.Break", {}),
      (err: unknown) => err instanceof MicroError && err.code === 500 && !err.detail.includes("internal detail"),
    );
    assert.equal(await client.call("relay", "Plain.Nothing", {}), undefined);
    assert.deepEqual(await client.call("relay", "Plain.Deferred", { value: "later" }), { value: "LATER" });
    assert.equal(relay.server.pending, 0, "every call is counted out");
  });

  it("calls an endpoint untyped", async () => {
    assert.deepEqual(await client.call("greeter", "Greeter.Hello", { name: "Bob" }), { msg: "Hello Bob" });
  });

  it("passes a thrown MicroError to the caller intact", async () => {
    await assert.rejects(client.call("greeter", "Greeter.Hello", { name: "" }), (err: unknown) => {
      assert.ok(err instanceof MicroError);
      assert.deepEqual(err.toJSON(), { id: "greeter", code: 400, detail: "name is required", status: "Bad Request" });
      return true;
    });
  });

  it("turns any other throw into a 500 without leaking the message", async () => {
    await assert.rejects(client.call("greeter", "Greeter.Crash", {}), (err: unknown) => {
      assert.ok(err instanceof MicroError);
      assert.equal(err.code, 500);
      assert.equal(err.detail, "internal server error");
      return true;
    });
  });

  it("answers an unknown endpoint with 404 naming the known ones", async () => {
    await assert.rejects(client.call("greeter", "Greeter.Nope", {}), (err: unknown) => {
      assert.ok(err instanceof MicroError && err.code === 404);
      assert.match(err.detail, /unknown endpoint Greeter\.Nope.*Greeter\.Hello/);
      return true;
    });
    await assert.rejects(client.call("greeter", "Greeter._private", {}), (err: unknown) => err instanceof MicroError && err.code === 404);
  });

  it("answers an unknown service with 404 from the client", async () => {
    await assert.rejects(
      client.call("nobody", "X.Y", {}),
      (err: unknown) => err instanceof MicroError && err.code === 404 && /service nobody: not found/.test(err.detail),
    );
  });

  it("answers an unsupported content type with 415, on either side", async () => {
    await assert.rejects(
      client.call("greeter", "Greeter.Hello", "x", { contentType: "application/x-nope" }),
      (err: unknown) => err instanceof MicroError && err.code === 415,
    );
    const conn = await new MuxTransport().dial(greeter.address!);
    const rsp = await conn.call({ header: { "Micro-Endpoint": "Greeter.Hello", "Content-Type": "application/x-nope" }, body: Buffer.from("x") });
    conn.close();
    const err = MicroError.parse(rsp.header["Micro-Error"]);
    assert.equal(err.code, 415);
    assert.match(err.detail, /unsupported Content-Type application\/x-nope/);
  });

  it("runs handler wrappers in onion order, first given outermost", async () => {
    order.length = 0;
    await client.call("greeter", "Greeter.Hello", { name: "x" });
    assert.deepEqual(order, ["outer>", "inner>", "<inner", "<outer"]);
  });

  it("sends per-call metadata, readable case-insensitively, and the caller's name", async () => {
    const rsp = await relay.client.call<{ trace: string; caller: string }>("greeter", "Greeter.Meta", {}, { metadata: { "X-Trace-Id": "abc" } });
    assert.equal(rsp.trace, "abc");
    assert.equal(rsp.caller, "relay");
  });

  it("carries the deadline and metadata across two hops", async () => {
    const rsp = await client.call<{ trace: string; remaining: number }>("relay", "Relay.Forward", {}, { timeout: 1_500, metadata: { "X-Trace-Id": "hop" } });
    assert.equal(rsp.trace, "hop");
    assert.ok(rsp.remaining > 0 && rsp.remaining <= 1_500, `the second hop saw ${rsp.remaining} ms left of the first hop's 1500`);
  });

  it("times out with 408 and fires the handler's signal", async () => {
    await assert.rejects(
      client.call("greeter", "Greeter.Slow", { ms: 400 }, { timeout: 100 }),
      (err: unknown) => err instanceof MicroError && err.code === 408,
    );
  });

  it("retries a server's 408 only for calls marked idempotent", async () => {
    handler.timeouts = 0;
    await assert.rejects(
      client.call("greeter", "Greeter.Flaky", { failures: 2 }),
      (err: unknown) => err instanceof MicroError && err.code === 408 && err.id === "greeter",
    );
    assert.equal(handler.timeouts, 1, "a call not marked idempotent ran once");
    handler.timeouts = 0;
    assert.deepEqual(await client.call("greeter", "Greeter.Flaky", { failures: 2 }, { idempotent: true }), { attempts: 3 });
  });

  it("retries a call that could not be delivered on another node", async () => {
    const dead = {
      name: "greeter",
      version: "dead",
      metadata: null,
      endpoints: null,
      nodes: [{ id: "greeter-dead", address: "127.0.0.1:1", metadata: { transport: "mux" } }],
    };
    await registry.register(dead);
    try {
      // Round robin from a fresh client reaches the dead node within the first two calls.
      const rr = createClient({ registry, logger: quiet, strategy: roundRobin() });
      for (let i = 0; i < 4; i++) assert.deepEqual(await rr.call("greeter", "Greeter.Hello", { name: "x" }, { retries: 1 }), { msg: "Hello x" });
      assert.equal(rr.selector.isEjected("127.0.0.1:1"), true, "the dead node was tried and ejected");
      rr.close();
    } finally {
      await registry.deregister(dead);
    }
  });

  it("calls an explicit address without the registry", async () => {
    assert.deepEqual(await client.call("greeter", "Greeter.Hello", { name: "direct" }, { address: greeter.address }), { msg: "Hello direct" });
  });
});

/** Answers after `delay` ms whatever happens; counts runs, and calls whose caller gave up. */
class Patient {
  runs = 0;
  cancelled = 0;
  forwarded = 0;
  constructor(private readonly delay: number) {}
  async Work(_req: unknown, ctx: Context): Promise<{ delay: number }> {
    this.runs++;
    ctx.signal.addEventListener("abort", () => this.cancelled++);
    await new Promise((resolve) => setTimeout(resolve, this.delay));
    return { delay: this.delay };
  }
  /** Calls to PassOn on every node. */
  static passedOn = 0;
  /** Fails the first call (on any node) with the 408 its own call to a backend got, passed on as is. */
  async PassOn(): Promise<{ call: number }> {
    this.forwarded++;
    if (Patient.passedOn++ === 0) throw new LocalError(408, "call timeout: the backend had no answer before its deadline");
    return { call: Patient.passedOn };
  }
}

describe("attempts: per-attempt timeouts and where errors come from", () => {
  const registry = new MemoryRegistry();
  const slowHandler = new Patient(1_500);
  const fastHandler = new Patient(0);
  const slow = createService({ name: "patient", registry, logger: quiet });
  const fast = createService({ name: "patient", registry, logger: quiet });
  slow.handle(slowHandler);
  fast.handle(fastHandler);
  /** Picks the slow node while it may be picked. */
  const slowFirst: Strategy = { name: "slowFirst", pick: (nodes) => nodes.find((n) => n.address === slow.address) ?? nodes[0] };
  const reset = (): void => {
    for (const h of [slowHandler, fastHandler]) h.runs = h.cancelled = h.forwarded = 0;
    Patient.passedOn = 0;
  };

  before(async () => {
    await slow.start();
    await fast.start();
  });
  after(async () => {
    await slow.stop();
    await fast.stop();
    await registry.close();
  });

  it("cuts an idempotent attempt at attemptTimeout and retries it on another node within the caller's deadline", async () => {
    reset();
    const client = createClient({ registry, logger: quiet });
    try {
      assert.deepEqual(await client.call("patient", "Patient.Work", {}, { idempotent: true, attemptTimeout: 200, timeout: 5_000, strategy: slowFirst }), {
        delay: 0,
      });
      assert.equal(slowHandler.runs, 1);
      assert.equal(fastHandler.runs, 1);
      assert.ok(await eventually(() => slowHandler.cancelled === 1), "the cut attempt was cancelled on the slow node");
    } finally {
      await client.close();
    }
  });

  it("gives each further attempt of an idempotent call twice as long, so a merely slow endpoint still answers", async () => {
    reset();
    const client = createClient({ registry, logger: quiet });
    try {
      // 1.5 s of work on the only node called: cut at 400 ms, then at 800 ms, answered within 1.6 s.
      assert.deepEqual(await client.call("patient", "Patient.Work", {}, { idempotent: true, attemptTimeout: 400, timeout: 10_000, address: slow.address }), {
        delay: 1_500,
      });
      assert.equal(slowHandler.runs, 3);
    } finally {
      await client.close();
    }
  });

  it("lets a call that is not idempotent wait up to its deadline: cutting it short could not lead to a retry", async () => {
    reset();
    const client = createClient({ registry, logger: quiet });
    try {
      // Longer than the default attemptTimeout (1 s), shorter than the call's timeout.
      assert.deepEqual(await client.call("patient", "Patient.Work", {}, { timeout: 5_000, strategy: slowFirst }), { delay: 1_500 });
      assert.equal(slowHandler.cancelled, 0);
      assert.equal(fastHandler.runs, 0);
    } finally {
      await client.close();
    }
  });

  it("fails a call that is not idempotent when an explicit attemptTimeout cuts it, with a LocalError, without retrying it", async () => {
    reset();
    const client = createClient({ registry, logger: quiet });
    try {
      await assert.rejects(
        client.call("patient", "Patient.Work", {}, { attemptTimeout: 200, timeout: 5_000, strategy: slowFirst }),
        (err: unknown) => err instanceof LocalError && err.code === 408,
      );
      assert.equal(slowHandler.runs, 1);
      assert.equal(fastHandler.runs, 0, "not run a second time elsewhere");
    } finally {
      await client.close();
    }
  });

  it("tells its own timeouts from a server's: a 408 a server passed on from its own call is retried for idempotent calls", async () => {
    reset();
    const client = createClient({ registry, logger: quiet });
    try {
      await assert.rejects(
        client.call("patient", "Patient.Work", {}, { timeout: 100, strategy: slowFirst }),
        (err: unknown) => err instanceof LocalError && err.code === 408,
      );
      const passedOn = await client.call("patient", "Patient.PassOn", {}, { strategy: slowFirst }).catch((err: unknown) => err);
      assert.ok(passedOn instanceof MicroError && !(passedOn instanceof LocalError), "the server's answer, though its id is go.micro.client");
      assert.equal((passedOn as MicroError).id, "go.micro.client");
      reset();
      assert.deepEqual(await client.call("patient", "Patient.PassOn", {}, { idempotent: true }), { call: 2 });
      assert.equal(slowHandler.forwarded, 1, "retried once, on the other node");
      assert.equal(fastHandler.forwarded, 1, "retried once, on the other node");
    } finally {
      await client.close();
    }
  });
});

async function eventually(check: () => boolean, timeout = 2_000): Promise<boolean> {
  const until = Date.now() + timeout;
  while (!check() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
  return check();
}
