/**
 * TLS and mTLS across processes, switched on by environment only: the greeter started with
 * MICRO_TRANSPORT_SECURE, MICRO_TLS_* and MICRO_TLS_CLIENT_AUTH=require answers `micro call` run
 * with the same settings; the CLI without a client certificate, with one from another CA, and in
 * plaintext is each refused with a clear error, and the greeter keeps serving.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mtlsGreeter } from "../setup/mtls-greeter.js";

describe("mTLS across processes", () => {
  const { certs, registry, processes, base, clientEnv, plaintext, hello, assertRefused } = mtlsGreeter();

  it("serves a client with a certificate from the CA, and advertises secure=true", async () => {
    const [record] = await registry.getService("greeter");
    assert.equal(record?.nodes[0]?.metadata?.secure, "true");
    const { code, stdout, stderr } = await hello(clientEnv);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /Hello Ada/);
  });

  it("refuses a client without a certificate, with one from another CA, and a plaintext one, and keeps serving", async () => {
    const refusals: Array<[string, Record<string, string>, RegExp]> = [
      ["no client certificate", base, /client certificate required \(mTLS\)/],
      [
        "another CA's certificate",
        { ...base, MICRO_TLS_CERT: certs.rogueClient.certFile, MICRO_TLS_KEY: certs.rogueClient.keyFile },
        /client certificate refused/,
      ],
      ["plaintext", plaintext, /this server requires TLS/],
    ];
    await assertRefused(refusals);
    assert.equal(processes[0]?.child.exitCode, null, "the greeter is still running");
  });
});
