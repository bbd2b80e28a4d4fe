/**
 * Response metadata, server → client: a handler sets `ctx.responseMetadata`; a plain gRPC client
 * (@grpc/grpc-js) reads it as response headers (what was set before the first message) and
 * trailers (the rest), and ts-micro's client reads it with `onResponseMetadata` over gRPC, mux
 * and the HTTP transport. Framework and protocol headers cannot be set from a handler.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { type Client, type Context, createClient, createService, MicroError, type Service } from "../../src/index.js";
import type { Metadata } from "../../src/metadata/metadata.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { HttpTransport } from "../../src/transport/http/http.js";
import { MuxTransport } from "../../src/transport/mux/mux.js";
import type { Transport } from "../../src/transport/transport.js";
import { quiet } from "../setup/logger.js";
import { ECHO_PROTO } from "./echo-handler.js";

/** Served as `Echo` with test/grpc/echo.proto: every method sets response metadata. */
class Echo {
  async Call(req: { name: string }, ctx: Context): Promise<{ msg: string }> {
    ctx.responseMetadata.set("X-Served-By", "echo-1");
    // Neither can change the answer: they are the protocol's and the framework's own.
    ctx.responseMetadata.set("grpc-status", "13");
    ctx.responseMetadata.set("Content-Type", "text/evil");
    ctx.responseMetadata.set("Micro-Error", "nope");
    ctx.responseMetadata.set("x-bad-value", "a\r\nb");
    return { msg: `hello ${req.name}` };
  }

  async *Count(req: { to: number }, ctx: Context): AsyncIterable<{ n: number }> {
    ctx.responseMetadata.set("x-first", "before the first message");
    for (let n = 1; n <= req.to; n++) yield { n };
    ctx.responseMetadata.set("x-last", String(req.to));
  }

  async Fail(req: { code: number }, ctx: Context): Promise<{ msg: string }> {
    ctx.responseMetadata.set("x-reason", "asked to fail");
    throw new MicroError("echo", req.code, "failed on purpose");
  }
}

type Callback<T> = (err: grpc.ServiceError | null, value?: T) => void;
interface EchoClient extends grpc.Client {
  Call(req: object, cb: Callback<{ msg: string }>): grpc.ClientUnaryCall;
  Count(req: object): grpc.ClientReadableStream<{ n: number }>;
  Fail(req: object, cb: Callback<unknown>): grpc.ClientUnaryCall;
}
type Ctor<T> = new (address: string, credentials: grpc.ChannelCredentials) => T;

const LOADER = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
const echoPackage = grpc.loadPackageDefinition(protoLoader.loadSync(ECHO_PROTO, LOADER)).echo as grpc.GrpcObject;

/** The response metadata a ts-micro call reports, as a plain object with lowercase keys. */
function capture(): { options: { onResponseMetadata: (m: Metadata) => void }; seen: () => Record<string, string> | undefined } {
  let seen: Record<string, string> | undefined;
  return {
    options: {
      onResponseMetadata: (metadata) => {
        seen = {};
        for (const [key, value] of metadata) seen[key.toLowerCase()] = value;
      },
    },
    seen: () => seen,
  };
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

describe("response metadata over gRPC, read by @grpc/grpc-js", () => {
  const registry = new MemoryRegistry();
  let service: Service;
  let client: EchoClient;

  before(async () => {
    service = createService({ name: "echo", server: "grpc", registry, address: "127.0.0.1:0", logger: quiet, grpc: { proto: ECHO_PROTO } });
    service.handle(new Echo());
    await service.start();
    client = new (echoPackage.Echo as unknown as Ctor<EchoClient>)(service.address!, grpc.credentials.createInsecure());
  });
  after(async () => {
    client?.close();
    await service?.stop();
    await registry.close();
  });

  it("sends a unary handler's metadata as response headers, lowercase, and leaves reserved keys alone", async () => {
    let headers: grpc.Metadata | undefined;
    const reply = await new Promise<{ msg: string }>((resolve, reject) => {
      const call = client.Call({ name: "Ada" }, (err, value) => (err ? reject(err) : resolve(value!)));
      call.on("metadata", (m: grpc.Metadata) => {
        headers = m;
      });
    });
    assert.equal(reply.msg, "hello Ada");
    assert.deepEqual(headers?.get("x-served-by"), ["echo-1"]);
    assert.deepEqual(headers?.get("content-type"), ["application/grpc"]);
    assert.deepEqual(headers?.get("micro-error"), []);
    assert.deepEqual(headers?.get("x-bad-value"), []);
  });

  it("sends what a stream set before its first message as headers, the rest as trailers", async () => {
    const stream = client.Count({ to: 3 });
    const headers = new Promise<grpc.Metadata>((resolve) => stream.on("metadata", resolve));
    const status = new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve));
    const items = await collect<{ n: number }>(stream);
    assert.deepEqual(
      items.map((i) => i.n),
      [1, 2, 3],
    );
    assert.deepEqual((await headers).get("x-first"), ["before the first message"]);
    assert.deepEqual((await headers).get("x-last"), []);
    const trailers = (await status).metadata;
    assert.deepEqual(trailers.get("x-last"), ["3"]);
    assert.deepEqual(trailers.get("x-first"), [], "sent once, in the headers");
  });

  it("sends a failed handler's metadata with the error status", async () => {
    const err = await new Promise<grpc.ServiceError>((resolve) => client.Fail({ code: 404 }, (e) => resolve(e!)));
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.deepEqual(err.metadata.get("x-reason"), ["asked to fail"]);
  });
});

const transports: [string, () => Transport | undefined, string | undefined][] = [
  ["gRPC", () => undefined, "grpc"],
  ["mux", () => new MuxTransport(), undefined],
  ["the HTTP transport", () => new HttpTransport(), undefined],
];

for (const [name, transport, server] of transports) {
  describe(`response metadata read by ts-micro's client over ${name}`, () => {
    const registry = new MemoryRegistry();
    let service: Service;
    let client: Client;

    before(async () => {
      const made = transport();
      service = createService({
        name: "echo",
        registry,
        address: "127.0.0.1:0",
        logger: quiet,
        ...(server === "grpc" ? { server: "grpc", grpc: { proto: ECHO_PROTO } } : {}),
        ...(made ? { transport: made } : {}),
      });
      service.handle(new Echo());
      await service.start();
      const foreign = name === "the HTTP transport" ? { transport: new HttpTransport() } : {};
      client = createClient({ registry, logger: quiet, retries: 0, ...foreign });
    });
    after(async () => {
      await client?.close();
      await service?.stop();
      await registry.close();
    });

    it("reads a unary handler's metadata, without the reserved keys", async () => {
      const { options, seen } = capture();
      const reply = await client.service<{ Echo: Echo }>("echo").Echo.Call({ name: "Ada" }, { ...options, metadata: { "X-Request-Only": "1" } });
      assert.equal(reply.msg, "hello Ada");
      assert.equal(seen()?.["x-served-by"], "echo-1");
      assert.equal(seen()?.["x-request-only"], undefined, "the request's metadata is not the response's");
      for (const reserved of ["grpc-status", "content-type", "micro-error", "x-bad-value"]) assert.equal(seen()?.[reserved], undefined, reserved);
    });

    it("reads it with the server's error", async () => {
      const { options, seen } = capture();
      await assert.rejects(client.service<{ Echo: Echo }>("echo").Echo.Fail({ code: 404 }, options), (err: MicroError) => err.code === 404);
      assert.equal(seen()?.["x-reason"], "asked to fail");
    });

    it("reads a stream's metadata once the stream has ended", async () => {
      const { options, seen } = capture();
      const items = await collect(client.stream<{ n: number }>("echo", "Echo.Count", { to: 2 }, options));
      assert.equal(items.length, 2);
      assert.equal(seen()?.["x-first"], "before the first message");
      // Only gRPC ends a stream with headers of its own (trailers).
      assert.equal(seen()?.["x-last"], server === "grpc" ? "2" : undefined);
    });
  });
}
