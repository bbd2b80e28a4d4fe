/**
 * A ts-micro service served over gRPC (`server: "grpc"`), called by a plain gRPC client that is
 * not ts-micro: @grpc/grpc-js with its own proto loading (@grpc/proto-loader). Unary, the three
 * stream kinds, deadlines, metadata, Go Micro's error status (code, error JSON message,
 * errors.Error detail), the standard health service, reflection; then bad input, after which the
 * server still answers.
 */
import assert from "node:assert/strict";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";
import { createService, type Service } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { quiet } from "../setup/logger.js";
import { collect } from "../setup/streams.js";
import { ECHO_PROTO, Echo, PROTO_DIR } from "./echo-handler.js";

type Callback<T> = (err: grpc.ServiceError | null, value?: T) => void;
interface EchoClient extends grpc.Client {
  Call(req: object, metadata: grpc.Metadata, options: grpc.CallOptions, cb: Callback<{ msg: string; metadata: Record<string, string> }>): void;
  Count(req: object): grpc.ClientReadableStream<{ n: number }>;
  Sum(cb: Callback<{ total: number }>): grpc.ClientWritableStream<{ n: number }>;
  Chat(): grpc.ClientDuplexStream<{ name: string }, { msg: string }>;
  Fail(req: object, cb: Callback<unknown>): void;
  Slow(req: object, metadata: grpc.Metadata, options: grpc.CallOptions, cb: Callback<{ msg: string }>): void;
}
type Ctor<T> = new (address: string, credentials: grpc.ChannelCredentials) => T;

const LOADER = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

function load(file: string): grpc.GrpcObject {
  return grpc.loadPackageDefinition(protoLoader.loadSync(file, LOADER));
}

const echoPackage = load(ECHO_PROTO).echo as grpc.GrpcObject;
const healthPackage = ((load(path.join(PROTO_DIR, "probes.proto")).grpc as grpc.GrpcObject).health as grpc.GrpcObject).v1 as grpc.GrpcObject;
const reflectionPackage = ((load(path.join(PROTO_DIR, "reflection.proto")).grpc as grpc.GrpcObject).reflection as grpc.GrpcObject).v1alpha as grpc.GrpcObject;

function unary<T>(fn: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}

function deadline(ms: number): grpc.CallOptions {
  return { deadline: Date.now() + ms };
}

describe("a ts-micro gRPC service called by @grpc/grpc-js", () => {
  const registry = new MemoryRegistry();
  const echo = new Echo();
  let service: Service;
  let client: EchoClient;
  let address = "";

  before(async () => {
    service = createService({
      name: "echo",
      server: "grpc",
      registry,
      address: "127.0.0.1:0",
      logger: quiet,
      grpc: { proto: ECHO_PROTO, maxMessageSize: 64 * 1024 },
    });
    service.handle(echo);
    await service.start();
    address = service.address!;
    client = new (echoPackage.Echo as unknown as Ctor<EchoClient>)(address, grpc.credentials.createInsecure());
  });
  after(async () => {
    client?.close();
    await service?.stop();
    await registry.close();
  });

  it("registers Go Micro's gRPC node metadata", async () => {
    const [record] = await registry.getService("echo");
    const metadata = record.nodes[0].metadata ?? {};
    assert.equal(metadata.server, "grpc");
    assert.equal(metadata.transport, "grpc");
    assert.equal(metadata.protocol, "grpc");
    assert.ok(record.endpoints?.some((e) => e.name === "Echo.Call"));
  });

  it("answers a unary call, with the caller's metadata reaching the handler", async () => {
    const metadata = new grpc.Metadata();
    metadata.set("x-trace-id", "t-1");
    const reply = await unary<{ msg: string; metadata: Record<string, string> }>((cb) => client.Call({ name: "Ada" }, metadata, deadline(5_000), cb));
    assert.equal(reply.msg, "hello Ada");
    assert.equal(reply.metadata["x-trace-id"], "t-1");
  });

  it("streams from the server", async () => {
    const got = await collect(client.Count({ to: 5 }) as AsyncIterable<{ n: number }>);
    assert.deepEqual(
      got.map((m) => m.n),
      [1, 2, 3, 4, 5],
    );
  });

  it("takes a client stream", async () => {
    const result = await unary<{ total: number }>((cb) => {
      const call = client.Sum(cb);
      for (const n of [1, 2, 3, 4]) call.write({ n });
      call.end();
    });
    assert.equal(result.total, 10);
  });

  it("runs a bidirectional stream, answering each message as it arrives", async () => {
    const call = client.Chat();
    const replies: string[] = [];
    for (const name of ["a", "b", "c"]) {
      call.write({ name });
      // The next message is written only after the answer to this one: the stream is live both ways.
      const reply = await new Promise<{ msg: string }>((resolve) => call.once("data", resolve));
      replies.push(reply.msg);
    }
    call.end();
    await new Promise((resolve) => call.on("end", resolve).resume());
    assert.deepEqual(replies, ["hi a", "hi b", "hi c"]);
  });

  it("maps a MicroError to Go Micro's status: code by HTTP code, the error JSON as message, errors.Error as detail", async () => {
    const cases: Array<[number, grpc.status]> = [
      [400, grpc.status.INVALID_ARGUMENT],
      [401, grpc.status.UNAUTHENTICATED],
      [403, grpc.status.PERMISSION_DENIED],
      [404, grpc.status.NOT_FOUND],
      [408, grpc.status.DEADLINE_EXCEEDED],
      [409, grpc.status.ALREADY_EXISTS],
      [412, grpc.status.FAILED_PRECONDITION],
      [500, grpc.status.INTERNAL],
      [501, grpc.status.UNIMPLEMENTED],
      [503, grpc.status.UNAVAILABLE],
      [418, grpc.status.UNKNOWN],
    ];
    const statusType = protobuf
      .parse(
        'syntax = "proto3"; message Any { string type_url = 1; bytes value = 2; } message Status { int32 code = 1; string message = 2; repeated Any details = 3; } message Error { string id = 1; int32 code = 2; string detail = 3; string status = 4; }',
        { keepCase: true },
      )
      .root.resolveAll();
    for (const [code, expected] of cases) {
      const err = await unary((cb) => client.Fail({ code, detail: "nope ü" }, cb)).then(
        () => assert.fail("Fail answered"),
        (e: grpc.ServiceError) => e,
      );
      assert.equal(err.code, expected, `HTTP ${code}`);
      assert.deepEqual(JSON.parse(err.details), { id: "echo", code, detail: "nope ü", status: JSON.parse(err.details).status });
      const [bin] = err.metadata.get("grpc-status-details-bin") as Buffer[];
      assert.ok(bin, "grpc-status-details-bin is present");
      const status = statusType.lookupType("Status").decode(bin) as unknown as { code: number; details: { type_url: string; value: Uint8Array }[] };
      assert.equal(status.code, expected);
      assert.equal(status.details[0].type_url, "type.googleapis.com/errors.Error");
      const detail = statusType.lookupType("Error").decode(status.details[0].value) as unknown as { id: string; code: number; detail: string };
      assert.deepEqual({ id: detail.id, code: detail.code, detail: detail.detail }, { id: "echo", code, detail: "nope ü" });
    }
  });

  it("ends a call past its grpc-timeout with DEADLINE_EXCEEDED and aborts the handler's signal", async () => {
    const err = await unary((cb) => client.Slow({ ms: 10_000 }, new grpc.Metadata(), deadline(200), cb)).then(
      () => assert.fail("Slow answered"),
      (e: grpc.ServiceError) => e,
    );
    assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
    // The server's own deadline (from grpc-timeout) fires too, not only the client's.
    for (let i = 0; i < 100 && !echo.lastSlow?.aborted; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(echo.lastSlow?.aborted, true);
  });

  it("serves grpc.health.v1.Health from the service's health checks", async () => {
    type HealthClient = grpc.Client & { Check(req: object, cb: Callback<{ status: string }>): void };
    const health = new (healthPackage.Health as unknown as Ctor<HealthClient>)(address, grpc.credentials.createInsecure());
    try {
      assert.equal((await unary<{ status: string }>((cb) => health.Check({ service: "" }, cb))).status, "SERVING");
      assert.equal((await unary<{ status: string }>((cb) => health.Check({ service: "echo.Echo" }, cb))).status, "SERVING");
      service.health.check("database", () => {
        throw new Error("database unreachable");
      });
      assert.equal((await unary<{ status: string }>((cb) => health.Check({ service: "" }, cb))).status, "NOT_SERVING");
      service.health.remove("database");
      const unknown = await unary((cb) => health.Check({ service: "nope.Nope" }, cb)).then(
        () => assert.fail("answered for an unknown service"),
        (e: grpc.ServiceError) => e,
      );
      assert.equal(unknown.code, grpc.status.NOT_FOUND);
    } finally {
      health.close();
    }
  });

  it("lists and describes its services through server reflection", async () => {
    type ReflectionClient = grpc.Client & { ServerReflectionInfo(): grpc.ClientDuplexStream<object, Record<string, unknown>> };
    const reflection = new (reflectionPackage.ServerReflection as unknown as Ctor<ReflectionClient>)(address, grpc.credentials.createInsecure());
    try {
      const call = reflection.ServerReflectionInfo();
      const ask = (req: object) =>
        new Promise<Record<string, unknown>>((resolve) => {
          call.once("data", resolve);
          call.write(req);
        });
      const listed = (await ask({ list_services: "" })) as { list_services_response: { service: { name: string }[] } };
      const names = listed.list_services_response.service.map((s) => s.name);
      assert.ok(names.includes("echo.Echo"), names.join(", "));
      assert.ok(names.includes("grpc.health.v1.Health"), names.join(", "));
      const described = (await ask({ file_containing_symbol: "echo.Echo" })) as { file_descriptor_response: { file_descriptor_proto: Buffer[] } };
      const descriptor = protobuf.parse(
        'syntax = "proto2"; message F { optional string name = 1; optional string package = 2; repeated S service = 6; } message S { optional string name = 1; repeated M method = 2; } message M { optional string name = 1; }',
      ).root;
      const file = descriptor.lookupType("F").decode(described.file_descriptor_response.file_descriptor_proto[0]) as unknown as {
        package: string;
        service: { name: string; method: { name: string }[] }[];
      };
      assert.equal(file.package, "echo");
      assert.deepEqual(
        file.service[0].method.map((m) => m.name),
        ["Call", "Count", "Sum", "Chat", "Fail", "Slow"],
      );
      // The health service is described too, so tools that describe before calling (grpcurl) can call it.
      const health = (await ask({ file_containing_symbol: "grpc.health.v1.Health" })) as { file_descriptor_response: { file_descriptor_proto: Buffer[] } };
      const healthFile = descriptor.lookupType("F").decode(health.file_descriptor_response.file_descriptor_proto[0]) as unknown as typeof file;
      assert.equal(healthFile.package, "grpc.health.v1");
      assert.deepEqual(
        healthFile.service[0].method.map((m) => m.name),
        ["Check", "Watch"],
      );
      const missing = (await ask({ file_containing_symbol: "no.Such" })) as { error_response: { error_code: number } };
      assert.equal(missing.error_response.error_code, grpc.status.NOT_FOUND);
      call.end();
    } finally {
      reflection.close();
    }
  });

  describe("bad input", () => {
    const raw = (method: string, body: Buffer): Promise<grpc.ServiceError> => {
      const plain = new grpc.Client(address, grpc.credentials.createInsecure());
      return unary<unknown>((cb) =>
        plain.makeUnaryRequest(
          method,
          (b: Buffer) => b,
          (b: Buffer) => b,
          body,
          cb,
        ),
      )
        .then(
          () => assert.fail(`${method} answered`),
          (e: grpc.ServiceError) => e,
        )
        .finally(() => plain.close());
    };

    it("answers an unknown method or service with UNIMPLEMENTED", async () => {
      const err = await raw("/echo.Echo/Nope", Buffer.alloc(0));
      assert.equal(err.code, grpc.status.UNIMPLEMENTED);
      assert.match(err.details, /unknown service Echo\.Nope/);
      assert.equal((await raw("/echo.Nothing/Call", Buffer.alloc(0))).code, grpc.status.UNIMPLEMENTED);
    });

    it("answers malformed protobuf with INVALID_ARGUMENT", async () => {
      const err = await raw("/echo.Echo/Call", Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]));
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    });

    it("refuses a message over the size limit with RESOURCE_EXHAUSTED", async () => {
      const err = await unary((cb) => client.Call({ name: "x".repeat(100 * 1024) }, new grpc.Metadata(), deadline(5_000), cb)).then(
        () => assert.fail("answered"),
        (e: grpc.ServiceError) => e,
      );
      assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED);
    });

    it("drops a connection that sends garbage, and keeps serving", async () => {
      const { host, port } = { host: address.slice(0, address.lastIndexOf(":")), port: Number(address.slice(address.lastIndexOf(":") + 1)) };
      for (const garbage of [
        Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 0x80, 0x7f].concat(Array(512).fill(0x41))),
      ]) {
        const closed = await new Promise<boolean>((resolve) => {
          const socket = net.connect({ host, port }, () => socket.write(garbage));
          socket.on("error", () => {});
          socket.resume();
          socket.on("close", () => resolve(true));
          setTimeout(() => {
            socket.destroy();
            resolve(false);
          }, 5_000).unref();
        });
        assert.equal(closed, true, "the server closed the garbage connection");
      }
      const reply = await unary<{ msg: string }>((cb) => client.Call({ name: "still here" }, new grpc.Metadata(), deadline(5_000), cb));
      assert.equal(reply.msg, "hello still here");
    });
  });
});
