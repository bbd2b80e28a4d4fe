/**
 * Auth over gRPC: the bearer token travels as lowercase `authorization` metadata and is checked
 * as on any transport; no token is UNAUTHENTICATED (401) and a denied call PERMISSION_DENIED
 * (403), for the ts-micro client and for a plain grpc-js client alike.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { generateKeyPair, JwtAuth } from "../../src/auth/jwt.js";
import { type Client, type Context, createClient, createService, MicroError, type Service } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { MemoryStore } from "../../src/store/memory.js";
import { quiet } from "../setup/logger.js";
import { ECHO_PROTO } from "./echo-handler.js";

class Echo {
  async Call(req: { name: string }, ctx: Context): Promise<{ msg: string }> {
    return { msg: `${req.name} as ${ctx.account?.id}` };
  }
  async Fail(): Promise<{ msg: string }> {
    return { msg: "not allowed to get here" };
  }
}

describe("auth over gRPC", () => {
  const registry = new MemoryRegistry();
  const auth = new JwtAuth({ store: new MemoryStore(), ...generateKeyPair() });
  let service: Service;
  let token = "";
  const clients: Client[] = [];

  before(async () => {
    await auth.rules.grant({ id: "call", scope: "echo", access: "granted", priority: 0, resource: { type: "service", name: "echo", endpoint: "Echo.Call" } });
    const account = await auth.generate("alice", { scopes: ["echo"] });
    token = (await auth.token({ id: "alice", secret: account.secret! })).accessToken;
    service = createService({ name: "echo", server: "grpc", registry, auth, address: "127.0.0.1:0", logger: quiet, grpc: { proto: ECHO_PROTO } });
    service.handle(new Echo());
    await service.start();
  });
  after(async () => {
    for (const c of clients) await c.close();
    await service?.stop();
    await registry.close();
  });

  const client = (withToken?: string): Client => {
    const made = createClient({ registry, logger: quiet, token: withToken });
    clients.push(made);
    return made;
  };

  it("checks the ts-micro client's token", async () => {
    assert.equal((await client(token).call<{ msg: string }>("echo", "Echo.Call", { name: "hi" })).msg, "hi as alice");
    await assert.rejects(client().call("echo", "Echo.Call", { name: "hi" }), (err) => err instanceof MicroError && err.code === 401);
    await assert.rejects(client(token).call("echo", "Echo.Fail", {}), (err) => err instanceof MicroError && err.code === 403);
  });

  it("checks a grpc-js client's authorization metadata", async () => {
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(ECHO_PROTO, { keepCase: true, defaults: true })).echo as grpc.GrpcObject;
    type EchoClient = grpc.Client & {
      Call(req: object, metadata: grpc.Metadata, cb: (err: grpc.ServiceError | null, rsp?: { msg: string }) => void): void;
    };
    const plain = new (pkg.Echo as unknown as new (a: string, c: grpc.ChannelCredentials) => EchoClient)(service.address!, grpc.credentials.createInsecure());
    const call = (metadata: grpc.Metadata) =>
      new Promise<{ msg: string }>((resolve, reject) => plain.Call({ name: "grpc" }, metadata, (err, rsp) => (err ? reject(err) : resolve(rsp!))));
    try {
      const withToken = new grpc.Metadata();
      withToken.set("authorization", `Bearer ${token}`);
      assert.equal((await call(withToken)).msg, "grpc as alice");
      await assert.rejects(call(new grpc.Metadata()), (err: grpc.ServiceError) => err.code === grpc.status.UNAUTHENTICATED);
    } finally {
      plain.close();
    }
  });
});
