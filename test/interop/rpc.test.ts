/**
 * Go Micro ⇄ ts-micro RPC, against real Go Micro v5 programs (interop/), by direct address:
 * a Go Micro client calls a ts-micro service on default settings (its mux port answers Go Micro's
 * HTTP transport) and on MICRO_TRANSPORT=http; a ts-micro client calls a Go Micro service. Unary
 * calls, metadata, server streams, and errors with their codes, both ways.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient, MicroError } from "../../src/index.js";
import { HttpTransport } from "../../src/transport/http/http.js";
import { fixture, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { buildGoPrograms, type GoProcess, runGo, startGo } from "./go.js";

const tsHelloworld = fixture("../interop/ts-helloworld");

interface CallResult {
  msg?: string;
  stream?: Array<{ count: number }>;
  error?: { id: string; code: number; detail: string; status: string };
}

/** Runs the Go Micro client against `address`. */
function goClient(address: string, env: Record<string, string>): Promise<CallResult> {
  return runGo<CallResult>("client", { INTEROP_SERVICE: "tshello", INTEROP_ADDRESS: address, ...env });
}

for (const transport of ["mux", "http"]) {
  describe(`Go Micro client → ts-micro service (MICRO_TRANSPORT=${transport})`, () => {
    let server: ServiceProcess;
    before(async () => {
      await buildGoPrograms();
      server = await startProcess(tsHelloworld, { MICRO_TRANSPORT: transport, MICRO_REGISTRY_ADDRESS: tempRegistry() });
    });
    after(() => stopAll([server]));

    it("makes a unary call", async () => {
      assert.deepEqual(await goClient(server.address, { INTEROP_NAME_ARG: "John" }), { msg: "Hello John from ts-micro" });
    });

    it("passes context metadata through as headers", async () => {
      assert.deepEqual(await goClient(server.address, { INTEROP_NAME_ARG: "John", INTEROP_GREETING: "Howdy" }), { msg: "Howdy John from ts-micro" });
    });

    it("gets ts-micro's errors with their id and code", async () => {
      assert.deepEqual((await goClient(server.address, { INTEROP_NAME_ARG: "" })).error, {
        id: "tshello",
        code: 400,
        detail: "name is required",
        status: "Bad Request",
      });
      assert.deepEqual((await goClient(server.address, { INTEROP_NAME_ARG: "missing" })).error, {
        id: "tshello",
        code: 404,
        detail: "no user called missing",
        status: "Not Found",
      });
      assert.equal((await goClient(server.address, { INTEROP_NAME_ARG: "conflict" })).error?.code, 409);
      const unknown = await goClient(server.address, { INTEROP_ENDPOINT: "Nope.Call" });
      assert.equal(unknown.error?.code, 404);
      assert.match(unknown.error?.detail ?? "", /unknown endpoint Nope\.Call/);
    });

    it("reads a server stream to its end (EOS), sending the request as Go's second message", async () => {
      assert.deepEqual(await goClient(server.address, { INTEROP_MODE: "stream", INTEROP_COUNT: "5" }), { stream: [0, 1, 2, 3, 4].map((count) => ({ count })) });
      assert.deepEqual(await goClient(server.address, { INTEROP_MODE: "stream", INTEROP_COUNT: "0" }), { stream: [] });
    });

    it("gets a stream's error with its code", async () => {
      const result = await goClient(server.address, { INTEROP_MODE: "stream", INTEROP_COUNT: "-1" });
      assert.deepEqual(result.error, { id: "tshello", code: 400, detail: "count must not be negative", status: "Bad Request" });
    });

    it("serves many Go Micro callers at once over pooled keep-alive connections", async () => {
      const result = await runGo<{ calls: number; errors: number; firstError?: string }>("client", {
        INTEROP_SERVICE: "tshello",
        INTEROP_ADDRESS: server.address,
        INTEROP_MODE: "bench",
        INTEROP_CONCURRENCY: "16",
        INTEROP_DURATION_MS: "300",
      });
      assert.equal(result.errors, 0, result.firstError);
      assert.ok(result.calls > 100, `only ${result.calls} calls in 300 ms`);
    });
  });
}

describe("ts-micro client → Go Micro service", () => {
  let server: GoProcess;
  let address: string;
  const client = createClient({ transport: new HttpTransport(), registry: undefined, retries: 0 });
  const call = <T>(endpoint: string, req: unknown): Promise<T> => client.call<T>("helloworld", endpoint, req, { address });

  before(async () => {
    server = await startGo("helloworld");
    address = server.address.replace(/^\[::\]|^0\.0\.0\.0/, "127.0.0.1");
  });
  after(async () => {
    client.close();
    await server?.stop();
  });

  it("makes a unary call", async () => {
    assert.deepEqual(await call("Helloworld.Call", { name: "Ada" }), { msg: "Hello Ada" });
  });

  it("sends metadata as headers Go Micro reads", async () => {
    const rsp = await client.call("helloworld", "Helloworld.Call", { name: "Ada" }, { address, metadata: { Greeting: "Hi" } });
    assert.deepEqual(rsp, { msg: "Hi Ada" });
  });

  it("round-trips the benchmark payload", async () => {
    const payload = { id: 42, name: "hello", tags: ["a", "b"], ok: true };
    assert.deepEqual(await call("Helloworld.Echo", payload), payload);
  });

  it("gets Go Micro's errors as MicroErrors with id and code intact", async () => {
    await assert.rejects(
      call("Helloworld.Call", { name: "" }),
      (err: unknown) => err instanceof MicroError && err.id === "helloworld" && err.code === 400 && err.detail === "name is required",
    );
    await assert.rejects(
      call("Helloworld.Call", { name: "missing" }),
      (err: unknown) => err instanceof MicroError && err.code === 404 && err.status === "Not Found",
    );
    // Go Micro's router reports an unknown handler as plain text, which arrives as code 0.
    await assert.rejects(call("Nope.Call", {}), (err: unknown) => err instanceof MicroError && err.code === 0 && /can't find service Nope/.test(err.detail));
  });

  it("reads a Go Micro server stream to EOS", async () => {
    const got: unknown[] = [];
    for await (const message of client.stream("helloworld", "Helloworld.Stream", { count: 4 }, { address })) got.push(message);
    assert.deepEqual(
      got,
      [0, 1, 2, 3].map((count) => ({ count })),
    );
  });

  it("gets a Go Micro stream's error with its code", async () => {
    const stream = client.stream("helloworld", "Helloworld.Stream", { count: -1 }, { address });
    await assert.rejects(
      (async () => {
        for await (const _ of stream) void _;
      })(),
      (err: unknown) => err instanceof MicroError && err.code === 400 && err.detail === "count must not be negative",
    );
  });

  it("runs concurrent calls on a pool of connections", async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => call<{ msg: string }>("Helloworld.Call", { name: `n${i}` })));
    for (const [i, r] of results.entries()) assert.equal(r.msg, `Hello n${i}`);
  });
});
