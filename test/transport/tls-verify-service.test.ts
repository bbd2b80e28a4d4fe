/**
 * verifyService (MICRO_TLS_VERIFY_SERVICE) in one client: the server certificate must name the
 * service called. A forged record for `payments` at the greeter's address is refused even on the
 * connection the client already holds to that address (checked per call, not per dial), while
 * calls to the greeter go on; with the option off, the address is what is checked, and the
 * forged record gets the call.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Context, createClient, createService, MicroError } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { brokerTlsFromEnv, transportTlsFromEnv } from "../../src/service/resolve.js";
import { MuxTransport } from "../../src/transport/mux/mux.js";
import type { TlsOptions } from "../../src/transport/tls.js";
import { makeTestCerts, type TestCerts } from "../setup/certs.js";
import { quiet } from "../setup/logger.js";

describe("TLS: a node's certificate must name the service it claims", () => {
  let certs: TestCerts;
  const registry = new MemoryRegistry();
  let stop: () => Promise<void> = async () => {};
  before(async () => {
    certs = makeTestCerts();
    // certs.server: CN greeter, subjectAltName IP:127.0.0.1.
    const service = createService({
      name: "greeter",
      registry,
      logger: quiet,
      transport: new MuxTransport({ tls: { cert: certs.server.cert, key: certs.server.key }, logger: quiet }),
    });
    service.handle({ Hello: async (_req: unknown, ctx: Context) => ({ service: ctx.service }) }, { name: "Greeter" });
    await service.start();
    stop = () => service.stop();
    const [record] = await registry.getService("greeter");
    const node = record.nodes[0];
    await registry.register({ name: "payments", version: "1", metadata: null, endpoints: null, nodes: [{ ...node, id: "payments-forged" }] });
  });
  after(async () => {
    await stop();
    await registry.close();
    certs.remove();
  });

  const client = (tls: TlsOptions) => createClient({ registry, logger: quiet, retries: 0, transport: new MuxTransport({ tls, logger: quiet }) });

  it("refuses the forged record on a connection already open to that address, and keeps calling the real service", async () => {
    const c = client({ ca: certs.ca, verifyService: true });
    try {
      assert.deepEqual(await c.call("greeter", "Greeter.Hello", {}), { service: "greeter" });
      await assert.rejects(c.call("payments", "Greeter.Hello", {}), (err: unknown) => {
        assert.ok(err instanceof MicroError, String(err));
        assert.match(err.detail, /the server's certificate names greeter, not the service payments \(MICRO_TLS_VERIFY_SERVICE\)/);
        return true;
      });
      assert.deepEqual(await c.call("greeter", "Greeter.Hello", {}), { service: "greeter" });
    } finally {
      await c.close();
    }
  });

  it("with the option off, the address is checked and the forged record gets the call", async () => {
    const c = client({ ca: certs.ca });
    try {
      assert.deepEqual(await c.call("payments", "Greeter.Hello", {}), { service: "payments" });
    } finally {
      await c.close();
    }
  });

  it("is switched by MICRO_TLS_VERIFY_SERVICE (true/false); anything else is a clear error; the broker takes the same certificates", () => {
    const env = { MICRO_TRANSPORT_SECURE: "true", MICRO_TLS_CA: certs.caFile, MICRO_TLS_CERT: certs.server.certFile, MICRO_TLS_KEY: certs.server.keyFile };
    assert.equal(transportTlsFromEnv({ ...env, MICRO_TLS_VERIFY_SERVICE: "true" })?.verifyService, true);
    assert.equal(transportTlsFromEnv(env)?.verifyService, false);
    assert.throws(() => transportTlsFromEnv({ ...env, MICRO_TLS_VERIFY_SERVICE: "yes" }), /MICRO_TLS_VERIFY_SERVICE=yes: expected true or false/);
    const broker = brokerTlsFromEnv({ ...env, MICRO_TLS_CLIENT_AUTH: "require" });
    assert.equal(broker?.clientAuth, "require");
    assert.equal(String(broker?.cert), certs.server.cert);
    assert.equal(brokerTlsFromEnv({}), undefined);
  });
});
