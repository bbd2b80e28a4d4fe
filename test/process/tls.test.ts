/**
 * TLS and mTLS across processes, switched on by environment only: the greeter started with
 * MICRO_TRANSPORT_SECURE, MICRO_TLS_* and MICRO_TLS_CLIENT_AUTH=require answers `micro call` run
 * with the same settings; the CLI without a client certificate, with one from another CA, and in
 * plaintext is each refused with a clear error, and the greeter keeps serving.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { LocalRegistry } from "../../src/registry/local.js";
import { makeTestCerts } from "../setup/certs.js";
import { fixture, runCli, type ServiceProcess, startProcess, stopAll, tempRegistry } from "./harness.js";

describe("mTLS across processes", () => {
  const certs = makeTestCerts();
  const registryDir = tempRegistry();
  const base = { MICRO_REGISTRY_ADDRESS: registryDir, MICRO_TRANSPORT_SECURE: "true", MICRO_TLS_CA: certs.caFile };
  const serverEnv = { ...base, MICRO_TLS_CERT: certs.server.certFile, MICRO_TLS_KEY: certs.server.keyFile, MICRO_TLS_CLIENT_AUTH: "require" };
  const clientEnv = { ...base, MICRO_TLS_CERT: certs.client.certFile, MICRO_TLS_KEY: certs.client.keyFile };
  const processes: ServiceProcess[] = [];
  const registry = new LocalRegistry({ path: registryDir });

  before(async () => {
    processes.push(await startProcess(fixture("greeter-service"), serverEnv));
  });
  after(async () => {
    stopAll(processes);
    await registry.close();
    certs.remove();
  });

  const hello = (env: Record<string, string>) => runCli(["call", "greeter", "Greeter.Hello", '{"name":"Ada"}', "--timeout", "5s"], env);

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
      ["plaintext", { MICRO_REGISTRY_ADDRESS: registryDir }, /this server requires TLS/],
    ];
    for (const [what, env, reason] of refusals) {
      const { code, stdout, stderr } = await hello(env);
      assert.equal(code, 1, `${what}: ${stdout}`);
      assert.match(stderr, reason, what);
      const good = await hello(clientEnv);
      assert.equal(good.code, 0, `serves a good client after refusing ${what}: ${good.stderr}`);
    }
    assert.equal(processes[0]?.child.exitCode, null, "the greeter is still running");
  });
});
