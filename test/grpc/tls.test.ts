/**
 * gRPC over TLS and mTLS, with the transports' TLS options and certificates made by openssl:
 * @grpc/grpc-js trusting the server's CA calls it; a client trusting another CA and a plaintext
 * client are refused with a clear error; under mTLS a client certificate from the CA is the
 * handler's `ctx.caller.certificate`, and a missing or untrusted one is UNAUTHENTICATED with the
 * reason. The server keeps serving the right clients throughout; ts-micro's own client dials TLS.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { GrpcTransport } from "../../src/grpc/transport.js";
import { type Context, createClient, createService, type Service } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import type { TlsOptions } from "../../src/transport/tls.js";
import { makeTestCerts, type TestCerts } from "../setup/certs.js";
import { quiet } from "../setup/logger.js";
import { ECHO_PROTO } from "./echo-handler.js";

class Echo {
  async Call(req: { name: string }, ctx: Context): Promise<{ msg: string }> {
    const who = ctx.caller.certificate?.commonName;
    return { msg: who ? `hello ${req.name} (certificate ${who})` : `hello ${req.name}` };
  }
}

type Callback<T> = (err: grpc.ServiceError | null, value?: T) => void;
interface EchoClient extends grpc.Client {
  Call(req: object, options: grpc.CallOptions, cb: Callback<{ msg: string }>): grpc.ClientUnaryCall;
}
type Ctor<T> = new (address: string, credentials: grpc.ChannelCredentials) => T;
const echoPackage = grpc.loadPackageDefinition(protoLoader.loadSync(ECHO_PROTO, { keepCase: true })).echo as grpc.GrpcObject;

/** One call with grpc-js on a fresh channel, closed after. */
async function grpcJsCall(address: string, credentials: grpc.ChannelCredentials): Promise<string> {
  const client = new (echoPackage.Echo as unknown as Ctor<EchoClient>)(address, credentials);
  try {
    return await new Promise<string>((resolve, reject) =>
      client.Call({ name: "Ada" }, { deadline: Date.now() + 5_000 }, (err, value) => (err ? reject(err) : resolve(value!.msg))),
    );
  } finally {
    client.close();
  }
}

function ssl(ca: string, pair?: { key: string; cert: string }): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(Buffer.from(ca), pair && Buffer.from(pair.key), pair && Buffer.from(pair.cert));
}

let certs: TestCerts;
before(() => {
  certs = makeTestCerts();
});
after(() => certs.remove());

async function tlsService(registry: MemoryRegistry, tls: TlsOptions): Promise<Service> {
  const service = createService({ name: "echo", server: "grpc", registry, address: "127.0.0.1:0", logger: quiet, grpc: { proto: ECHO_PROTO, tls } });
  service.handle(new Echo());
  await service.start();
  return service;
}

describe("gRPC over TLS", () => {
  const registry = new MemoryRegistry();
  let service: Service;

  before(async () => {
    service = await tlsService(registry, { cert: certs.server.cert, key: certs.server.key });
  });
  after(async () => {
    await service?.stop();
    await registry.close();
  });

  it("answers grpc-js trusting the server's CA, and registers the node as secure", async () => {
    assert.equal(await grpcJsCall(service.address!, ssl(certs.ca)), "hello Ada");
    const [record] = await registry.getService("echo");
    assert.equal(record.nodes[0].metadata?.secure, "true");
    assert.equal(record.nodes[0].metadata?.protocol, "grpc");
  });

  it("is refused by a client trusting another CA, and keeps serving", async () => {
    await assert.rejects(grpcJsCall(service.address!, ssl(certs.otherCa)), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.match(err.details, /certificate/i);
      return true;
    });
    assert.equal(await grpcJsCall(service.address!, ssl(certs.ca)), "hello Ada");
  });

  it("tells a plaintext client that TLS is required, and keeps serving", async () => {
    await assert.rejects(grpcJsCall(service.address!, grpc.credentials.createInsecure()), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.match(err.details, /plaintext client: this server requires TLS/);
      return true;
    });
    assert.equal(await grpcJsCall(service.address!, ssl(certs.ca)), "hello Ada");
  });

  it("is called by ts-micro's client over TLS by name; a client trusting another CA gets a clear error", async () => {
    const client = createClient({ registry, logger: quiet, retries: 0, grpcTransport: new GrpcTransport({ tls: { ca: certs.ca }, logger: quiet }) });
    const rogue = createClient({ registry, logger: quiet, retries: 0, grpcTransport: new GrpcTransport({ tls: { ca: certs.otherCa }, logger: quiet }) });
    try {
      const echo = client.service<{ Echo: Echo }>("echo");
      assert.equal((await echo.Echo.Call({ name: "Ada" })).msg, "hello Ada");
      await assert.rejects(rogue.service<{ Echo: Echo }>("echo").Echo.Call({ name: "Ada" }), /TLS: .*certificate/i);
      assert.equal((await echo.Echo.Call({ name: "Bob" })).msg, "hello Bob");
    } finally {
      await client.close();
      await rogue.close();
    }
  });
});

describe("gRPC over mTLS", () => {
  const registry = new MemoryRegistry();
  let service: Service;

  before(async () => {
    service = await tlsService(registry, { cert: certs.server.cert, key: certs.server.key, ca: certs.ca, clientAuth: "require" });
  });
  after(async () => {
    await service?.stop();
    await registry.close();
  });

  it("gives the handler the verified client certificate of a grpc-js caller", async () => {
    assert.equal(await grpcJsCall(service.address!, ssl(certs.ca, certs.client)), "hello Ada (certificate caller)");
  });

  it("refuses a caller without a client certificate with UNAUTHENTICATED and the reason, and keeps serving", async () => {
    await assert.rejects(grpcJsCall(service.address!, ssl(certs.ca)), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAUTHENTICATED);
      assert.match(err.details, /client certificate required \(mTLS\)/);
      return true;
    });
    assert.equal(await grpcJsCall(service.address!, ssl(certs.ca, certs.client)), "hello Ada (certificate caller)");
  });

  it("refuses a client certificate from another CA, and keeps serving", async () => {
    await assert.rejects(grpcJsCall(service.address!, ssl(certs.ca, certs.rogueClient)), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAUTHENTICATED);
      assert.match(err.details, /client certificate refused/);
      return true;
    });
    assert.equal(await grpcJsCall(service.address!, ssl(certs.ca, certs.client)), "hello Ada (certificate caller)");
  });

  it("is called by ts-micro's client presenting its certificate; without one the call fails with 401", async () => {
    const tls = { ca: certs.ca, cert: certs.client.cert, key: certs.client.key };
    const client = createClient({ registry, logger: quiet, retries: 0, grpcTransport: new GrpcTransport({ tls, logger: quiet }) });
    const anonymous = createClient({ registry, logger: quiet, retries: 0, grpcTransport: new GrpcTransport({ tls: { ca: certs.ca }, logger: quiet }) });
    try {
      assert.equal((await client.service<{ Echo: Echo }>("echo").Echo.Call({ name: "Ada" })).msg, "hello Ada (certificate caller)");
      await assert.rejects(anonymous.service<{ Echo: Echo }>("echo").Echo.Call({ name: "Ada" }), (err: { code: number; detail: string }) => {
        assert.equal(err.code, 401);
        assert.match(err.detail, /client certificate required/);
        return true;
      });
    } finally {
      await client.close();
      await anonymous.close();
    }
  });
});
