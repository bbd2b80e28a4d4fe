/**
 * gRPC between ts-micro and Go, over the NATS registry (not etcd: Go Micro v5.30's gRPC server
 * replaces grpc-go's proto codec process-wide, which breaks its own etcd registry client; see
 * interop/grpcecho):
 * - a plain grpc-go client (interop/grpcplain, no Go Micro) calls a ts-micro gRPC service by
 *   address: unary with metadata, every stream kind, a deadline, an error status with its
 *   errors.Error detail, an unknown method, the health service and reflection;
 * - Go Micro v5's gRPC client (interop/grpccall, client/grpc) calls the ts-micro service by name;
 * - the ts-micro client calls Go Micro v5's gRPC server (interop/grpcecho, server/grpc) by name.
 * Unary, server stream, bidi and errors with their codes intact, both ways.
 */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Codecs, ProtoSchema, protobufCodec } from "../../src/codec/index.js";
import { type Client, createClient, createService, MicroError, type Service } from "../../src/index.js";
import { NatsRegistry } from "../../src/registry/nats.js";
import { ECHO_PROTO, Echo, echoEndpoints } from "../grpc/echo-handler.js";
import { quiet } from "../setup/logger.js";
import { collect, messages } from "../setup/streams.js";
import { type GoProcess, runGo, startGo } from "./go.js";
import { createWorld, type World } from "./world.js";

describe("gRPC interop with grpc-go and Go Micro v5 (registry NATS)", { timeout: 240_000 }, () => {
  const suffix = crypto.randomBytes(3).toString("hex");
  const tsName = `echo-${suffix}`;
  const goName = `goecho-${suffix}`;
  let world: World;
  let service: Service;
  let client: Client;
  let goServer: GoProcess;
  const registries: NatsRegistry[] = [];
  /** A registry for one side; given ones are not closed by the service or client, so after() does. */
  const registry = (): NatsRegistry => {
    const made = new NatsRegistry({ servers: world.ts.env.MICRO_REGISTRY_ADDRESS, logger: quiet });
    registries.push(made);
    return made;
  };

  before(async () => {
    world = await createWorld("nats", 0);
    service = createService({ name: tsName, server: "grpc", registry: registry(), address: "127.0.0.1:0", logger: quiet, grpc: { proto: ECHO_PROTO } });
    service.handle(new Echo(), { endpoints: echoEndpoints });
    await service.start();
    goServer = await startGo("grpcecho", { ...world.go.env, INTEROP_NAME: goName }, 60_000);
    const schema = new ProtoSchema({ files: [ECHO_PROTO] });
    client = createClient({ registry: registry(), logger: quiet, codecs: new Codecs([protobufCodec(schema)]), contentType: "application/protobuf" });
  });
  after(async () => {
    await client?.close();
    await goServer?.stop();
    await service?.stop();
    for (const made of registries) await made.close();
    await world?.dispose();
  });

  it("a plain grpc-go client calls the ts-micro service: unary, metadata, streams, deadline, errors, health, reflection", async () => {
    const got = await runGo<Record<string, unknown>>("grpcplain", { INTEROP_ADDRESS: service.address! }, 60_000);
    assert.equal(got.failed, undefined, String(got.failed));
    assert.equal(got.call, "hello Gopher");
    assert.deepEqual(got.metadata, { "x-trace-id": "go-1" });
    assert.deepEqual(got.count, [1, 2, 3]);
    assert.equal(got.sum, 15);
    assert.deepEqual(got.chat, ["hi x", "hi y"]);
    assert.equal(got.deadline, "DeadlineExceeded");
    assert.equal(got.errCode, "NotFound");
    assert.deepEqual(JSON.parse(String(got.errMessage)), { id: "echo", code: 404, detail: "failed on purpose", status: "Not Found" });
    assert.equal(got.errType, "type.googleapis.com/errors.Error");
    assert.deepEqual(got.errDetail, { id: "echo", code: 404, detail: "failed on purpose", status: "Not Found" });
    assert.equal(got.unknown, "Unimplemented");
    assert.equal(got.health, "SERVING");
    assert.ok((got.services as string[]).includes("echo.Echo"), String(got.services));
  });

  it("Go Micro's gRPC client calls the ts-micro service by name: unary, server stream, bidi, error codes", async () => {
    const codes = [400, 401, 403, 404, 408, 409, 500, 503];
    const got = await runGo<{ call: string; count: number[]; chat: string[]; errors: { id: string; code: number; detail: string }[]; failed?: string }>(
      "grpccall",
      { ...world.go.env, INTEROP_TARGET: tsName, INTEROP_CODES: codes.join(",") },
      60_000,
    );
    assert.equal(got.failed, undefined, got.failed);
    assert.equal(got.call, "hello Go");
    assert.deepEqual(got.count, [1, 2, 3]);
    assert.deepEqual(got.chat, ["hi a", "hi b"]);
    assert.deepEqual(
      got.errors.map((e) => [e.id, e.code, e.detail]),
      codes.map((code) => ["echo", code, "failed on purpose"]),
    );
  });

  it("the ts-micro client calls Go Micro's gRPC server by name: unary, server stream, bidi, error codes", async () => {
    const echo = client.service<{ Echo: Echo }>(goName).Echo;
    assert.equal((await echo.Call({ name: "Ada" })).msg, "go says hello Ada");
    assert.deepEqual(
      (await collect(echo.Count({ to: 3 }))).map((m) => m.n),
      [1, 2, 3],
    );
    assert.deepEqual(
      (await collect(echo.Chat(messages({ name: "a" }, { name: "b" })))).map((m) => m.msg),
      ["go hi a", "go hi b"],
    );
    for (const code of [400, 401, 403, 404, 409, 500, 503]) {
      const err = await echo.Fail({ code }).then(
        () => assert.fail("answered"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof MicroError, String(err));
      assert.deepEqual([err.id, err.code, err.detail], ["goecho", code, "failed on purpose"]);
    }
  });
});
