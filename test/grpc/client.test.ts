/**
 * The ts-micro client over gRPC: nodes registered with `protocol=grpc` are called over gRPC
 * through the same typed proxy (unary, the three stream kinds, errors, deadlines, metadata,
 * retries on a node that is down), `application/grpc+json` works without a .proto, and a plain
 * gRPC server (@grpc/grpc-js) is called by `grpc://` address with protobuf from its .proto.
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Codecs, ProtoSchema, protobufCodec } from "../../src/codec/index.js";
import { type Client, createClient, createService, MicroError, type Service } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { quiet } from "../setup/logger.js";
import { collect, messages } from "../setup/streams.js";
import { ECHO_PROTO, Echo, echoEndpoints } from "./echo-handler.js";

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

for (const withProto of [false, true]) {
  describe(`a ts-micro client calling a gRPC service by name (${withProto ? "with" : "without"} a .proto, JSON on the wire)`, () => {
    const registry = new MemoryRegistry();
    let service: Service;
    let client: Client;

    before(async () => {
      service = createService({ name: "echo", server: "grpc", registry, address: "127.0.0.1:0", logger: quiet, grpc: withProto ? { proto: ECHO_PROTO } : {} });
      service.handle(new Echo(), { endpoints: echoEndpoints });
      await service.start();
      client = createClient({ registry, logger: quiet, retries: 2 });
    });
    after(async () => {
      await client?.close();
      await service?.stop();
      await registry.close();
    });

    it("makes unary calls through the typed proxy, with metadata", async () => {
      const echo = client.service<{ Echo: Echo }>("echo");
      const reply = await echo.Echo.Call({ name: "Ada" }, { metadata: { "X-Trace-Id": "t-9" } });
      assert.equal(reply.msg, "hello Ada");
      assert.equal(reply.metadata?.["x-trace-id"], "t-9");
    });

    it("runs server, client and bidirectional streams", async () => {
      const echo = client.service<{ Echo: Echo }>("echo");
      assert.deepEqual(
        (await collect(echo.Echo.Count({ to: 4 }))).map((m) => m.n),
        [1, 2, 3, 4],
      );
      assert.equal((await echo.Echo.Sum(messages({ n: 5 }, { n: 6 }))).total, 11);
      assert.deepEqual(
        (await collect(echo.Echo.Chat(messages({ name: "x" }, { name: "y" })))).map((m) => m.msg),
        ["hi x", "hi y"],
      );
    });

    it("leaves no listener on a caller's AbortSignal shared by many finished calls", async () => {
      const controller = new AbortController();
      for (let i = 0; i < 20; i++) await client.call("echo", "Echo.Call", { name: String(i) }, { signal: controller.signal });
      assert.equal(getEventListeners(controller.signal, "abort").length, 0, "finished calls left listeners on the signal");
    });

    it("gets the service's MicroError back intact", async () => {
      const err = await client.call("echo", "Echo.Fail", { code: 409, detail: "taken" }).then(
        () => assert.fail("answered"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof MicroError);
      assert.deepEqual(err.toJSON(), { id: "echo", code: 409, detail: "taken", status: "Conflict" });
    });

    it("gives up at its deadline with a 408", async () => {
      const started = Date.now();
      const err = await client.call("echo", "Echo.Slow", { ms: 10_000 }, { timeout: 200 }).then(
        () => assert.fail("answered"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof MicroError && err.code === 408, String(err));
      assert.ok(Date.now() - started < 5_000);
    });

    it("retries on another node when one is down", async () => {
      const port = await closedPort();
      await registry.register({
        name: "echo",
        version: "latest",
        metadata: null,
        endpoints: null,
        nodes: [{ id: "echo-dead", address: `127.0.0.1:${port}`, metadata: { protocol: "grpc", transport: "grpc", server: "grpc" } }],
      });
      try {
        for (let i = 0; i < 6; i++) assert.equal((await client.call<{ msg: string }>("echo", "Echo.Call", { name: `n${i}` })).msg, `hello n${i}`);
      } finally {
        await registry.deregister({
          name: "echo",
          version: "latest",
          metadata: null,
          endpoints: null,
          nodes: [{ id: "echo-dead", address: `127.0.0.1:${port}`, metadata: {} }],
        });
      }
    });
  });
}

describe("a ts-micro client streaming requests to a gRPC service that declares nothing", () => {
  const registry = new MemoryRegistry();
  let service: Service;
  let client: Client;

  before(async () => {
    // No .proto and no `stream: true`: the ts-micro client says that its requests stream.
    service = createService({ name: "bare", server: "grpc", registry, address: "127.0.0.1:0", logger: quiet });
    service.handle(new Echo());
    await service.start();
    client = createClient({ registry, logger: quiet });
  });
  after(async () => {
    await client?.close();
    await service?.stop();
    await registry.close();
  });

  it("runs client and bidirectional streams", async () => {
    const echo = client.service<{ Echo: Echo }>("bare").Echo;
    assert.equal((await echo.Sum(messages({ n: 1 }, { n: 2 }))).total, 3);
    assert.deepEqual(
      (await collect(echo.Chat(messages({ name: "m" }, { name: "n" })))).map((m) => m.msg),
      ["hi m", "hi n"],
    );
  });
});

describe("a ts-micro client calling a plain @grpc/grpc-js server by address", () => {
  let server: grpc.Server;
  let address = "";
  let client: Client;

  before(async () => {
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(ECHO_PROTO, { keepCase: true, defaults: true })).echo as grpc.GrpcObject;
    server = new grpc.Server();
    const service = (pkg.Echo as unknown as { service: grpc.ServiceDefinition }).service;
    server.addService(service, {
      Call: (call: grpc.ServerUnaryCall<{ name: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const trace = call.metadata.get("x-trace-id")[0];
        cb(null, { msg: `grpc-js says hello ${call.request.name}`, metadata: trace ? { "x-trace-id": String(trace) } : {} });
      },
      Count: (call: grpc.ServerWritableStream<{ to: number }, unknown>) => {
        for (let n = 1; n <= call.request.to; n++) call.write({ n });
        call.end();
      },
      Sum: (call: grpc.ServerReadableStream<{ n: number }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        let total = 0;
        call.on("data", (m: { n: number }) => {
          total += m.n;
        });
        call.on("end", () => cb(null, { total }));
      },
      Chat: (call: grpc.ServerDuplexStream<{ name: string }, unknown>) => {
        call.on("data", (m: { name: string }) => call.write({ msg: `hi ${m.name}` }));
        call.on("end", () => call.end());
      },
      Fail: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.NOT_FOUND, details: "no such thing" }),
      Slow: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => setTimeout(() => cb(null, { msg: "late" }), 2_000),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    address = `grpc://127.0.0.1:${port}`;
    const schema = new ProtoSchema({ files: [ECHO_PROTO] });
    client = createClient({ registry: new MemoryRegistry(), logger: quiet, codecs: new Codecs([protobufCodec(schema)]), contentType: "application/protobuf" });
  });
  after(async () => {
    await client?.close();
    server?.forceShutdown();
  });

  it("calls it with protobuf messages from the .proto: unary and every stream kind", async () => {
    const echo = client.service<{ Echo: Echo }>("echo");
    const reply = await echo.Echo.Call({ name: "Ada" }, { address, metadata: { "x-trace-id": "t-2" } });
    assert.equal(reply.msg, "grpc-js says hello Ada");
    assert.equal(reply.metadata?.["x-trace-id"], "t-2");
    assert.deepEqual(
      (await collect(echo.Echo.Count({ to: 3 }, { address }))).map((m) => m.n),
      [1, 2, 3],
    );
    assert.equal((await echo.Echo.Sum(messages({ n: 2 }, { n: 3 }), { address })).total, 5);
    assert.deepEqual(
      (await collect(echo.Echo.Chat(messages({ name: "p" }, { name: "q" }), { address }))).map((m) => m.msg),
      ["hi p", "hi q"],
    );
  });

  it("reads a plain gRPC status as a MicroError with the mapped HTTP code, and times out", async () => {
    const err = await client.call("echo", "Echo.Fail", { code: 1 }, { address }).then(
      () => assert.fail("answered"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof MicroError);
    assert.equal(err.code, 404);
    assert.equal(err.detail, "no such thing");
    const late = await client.call("echo", "Echo.Slow", { ms: 1 }, { address, timeout: 200 }).then(
      () => assert.fail("answered"),
      (e: unknown) => e,
    );
    assert.ok(late instanceof MicroError && late.code === 408, String(late));
  });
});
