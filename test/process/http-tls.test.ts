/**
 * The http transport and the http broker over mTLS across processes, switched on by environment
 * only: the greeter started with MICRO_TRANSPORT=http and the MICRO_TLS_* settings answers `micro
 * call` with the same settings and advertises secure=true; a plaintext CLI is told TLS is
 * required; `micro publish` reaches the greeter's subscriber over HTTPS with a client certificate
 * and is refused without one; the greeter keeps serving.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HTTP_BROKER_SERVICE } from "../../src/broker/http.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { makeTestCerts } from "../setup/certs.js";
import { fixture, runCli, type ServiceProcess, startProcess, stopAll, tempRegistry } from "./harness.js";

describe("http transport and broker over mTLS across processes", () => {
  const certs = makeTestCerts();
  const registryDir = tempRegistry();
  const base = { MICRO_REGISTRY_ADDRESS: registryDir, MICRO_TRANSPORT: "http", MICRO_TRANSPORT_SECURE: "true", MICRO_TLS_CA: certs.caFile };
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

  it("serves a client with a certificate from the CA over the http transport, and advertises secure=true", async () => {
    const [record] = await registry.getService("greeter");
    assert.equal(record?.nodes[0]?.metadata?.transport, "http");
    assert.equal(record?.nodes[0]?.metadata?.secure, "true");
    const { code, stdout, stderr } = await hello(clientEnv);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /Hello Ada/);
  });

  it("refuses a plaintext client and one without a certificate, saying why, and keeps serving", async () => {
    const refusals: Array<[string, Record<string, string>, RegExp]> = [
      ["plaintext", { MICRO_REGISTRY_ADDRESS: registryDir, MICRO_TRANSPORT: "http" }, /this server requires TLS/],
      ["no client certificate", base, /client certificate required \(mTLS\)/],
    ];
    for (const [what, env, reason] of refusals) {
      const { code, stdout, stderr } = await hello(env);
      assert.equal(code, 1, `${what}: ${stdout}`);
      assert.match(stderr, reason, what);
      const good = await hello(clientEnv);
      assert.equal(good.code, 0, `serves a good client after refusing ${what}: ${good.stderr}`);
    }
  });

  it("the http broker: the subscriber serves HTTPS; a publisher with a certificate delivers, one without is refused", async () => {
    const [brokerRecord] = await registry.getService(HTTP_BROKER_SERVICE);
    assert.equal(brokerRecord?.nodes.find((n) => n.metadata?.topic === "greeting.sent")?.metadata?.secure, "true");
    const delivered = await runCli(["publish", "greeting.sent", '{"name":"Ada"}'], clientEnv);
    assert.equal(delivered.code, 0, delivered.stderr);
    const refused = await runCli(["publish", "greeting.sent", '{"name":"Eve"}'], base);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /not delivered to 1 of 1 subscribers: .*alert certificate required/);
    assert.equal(processes[0]?.child.exitCode, null, "the greeter is still running");
  });
});
