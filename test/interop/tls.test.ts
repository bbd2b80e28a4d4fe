/**
 * TLS and mTLS between Go Micro v5 and ts-micro with one CA: a Go Micro client using its HTTP
 * transport with `transport.Secure` and a TLSConfig calls a ts-micro service that requires client
 * certificates (its mux port answers HTTP after the handshake), and is refused with a 403 saying
 * why when it has no certificate; a ts-micro client calls a Go Micro service that requires client
 * certificates over the http transport with TLS, and fails at once without one.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "../../src/index.js";
import { HttpTransport } from "../../src/transport/http/http.js";
import { fixture, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { makeTestCerts, type TestCerts, tlsEnv } from "../setup/certs.js";
import { buildGoPrograms, type GoProcess, runGo, startGo } from "./go.js";

interface GoResult {
  msg?: string;
  error?: { id: string; code: number; detail: string; status: string } | string;
}

describe("Go Micro ⇄ ts-micro over TLS and mTLS", () => {
  let certs: TestCerts;
  before(async () => {
    certs = makeTestCerts();
    await buildGoPrograms();
  });
  after(() => certs.remove());

  describe("Go Micro client (transport.Secure) → ts-micro service requiring client certificates", () => {
    let server: ServiceProcess;
    before(async () => {
      server = await startProcess(fixture("../interop/ts-helloworld"), {
        MICRO_REGISTRY_ADDRESS: tempRegistry(),
        ...tlsEnv(certs, certs.server, "require"),
      });
    });
    after(() => stopAll([server]));

    const call = (tls: Record<string, string>) =>
      runGo<GoResult>("client", {
        INTEROP_SERVICE: "tshello",
        INTEROP_ADDRESS: server.address,
        INTEROP_NAME_ARG: "John",
        INTEROP_TLS_CA: certs.caFile,
        ...tls,
      });

    it("with a client certificate from the CA: the call runs", async () => {
      assert.deepEqual(await call({ INTEROP_TLS_CERT: certs.client.certFile, INTEROP_TLS_KEY: certs.client.keyFile }), { msg: "Hello John from ts-micro" });
    });

    it("without one: refused with a 403 saying a client certificate is required; the service keeps serving", async () => {
      const refused = await call({});
      assert.match(JSON.stringify(refused.error), /client certificate required \(mTLS\)/);
      assert.deepEqual(await call({ INTEROP_TLS_CERT: certs.client.certFile, INTEROP_TLS_KEY: certs.client.keyFile }), { msg: "Hello John from ts-micro" });
    });
  });

  describe("ts-micro client (http transport over TLS) → Go Micro service requiring client certificates", () => {
    let server: GoProcess;
    let address: string;
    before(async () => {
      server = await startGo("helloworld", {
        INTEROP_NAME: "gohello",
        INTEROP_TLS_CA: certs.caFile,
        INTEROP_TLS_CERT: certs.server.certFile,
        INTEROP_TLS_KEY: certs.server.keyFile,
        INTEROP_TLS_CLIENT_AUTH: "require",
        MICRO_SERVER_ADDRESS: "127.0.0.1:0",
      });
      address = server.address.replace(/^\[::\]|^0\.0\.0\.0/, "127.0.0.1");
    });
    after(() => server?.stop());

    const call = async (tls: ConstructorParameters<typeof HttpTransport>[0]) => {
      const client = createClient({ transport: new HttpTransport(tls), retries: 0 });
      try {
        return await client.call<{ msg: string }>("gohello", "Helloworld.Call", { name: "Ada" }, { address, timeout: 5_000 });
      } finally {
        await client.close();
      }
    };

    it("with a client certificate from the CA: the call runs", async () => {
      assert.deepEqual(await call({ tls: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key } }), { msg: "Hello Ada" });
    });

    it("without one, or trusting another CA: fails at once with the TLS reason", async () => {
      await assert.rejects(call({ tls: { ca: certs.ca } }), (err: unknown) => {
        assert.match(String(err), /certificate|connection/i);
        return true;
      });
      await assert.rejects(call({ tls: { ca: certs.otherCa, cert: certs.client.cert, key: certs.client.key } }), (err: unknown) => {
        assert.match(String(err), /certificate/i);
        return true;
      });
    });
  });
});
