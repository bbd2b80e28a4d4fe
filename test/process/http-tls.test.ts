/**
 * The http transport and the http broker over mTLS across processes, switched on by environment
 * only: the greeter started with MICRO_TRANSPORT=http and the MICRO_TLS_* settings answers `micro
 * call` with the same settings and advertises secure=true; a plaintext CLI is told TLS is
 * required; `micro publish` reaches the greeter's subscriber over HTTPS with a client certificate
 * and is refused without one; the greeter keeps serving.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HTTP_BROKER_SERVICE } from "../../src/broker/http.js";
import { mtlsGreeter } from "../setup/mtls-greeter.js";
import { runCli } from "./harness.js";

describe("http transport and broker over mTLS across processes", () => {
  const { registry, processes, base, clientEnv, plaintext, hello, assertRefused } = mtlsGreeter({ MICRO_TRANSPORT: "http" });

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
      ["plaintext", plaintext, /this server requires TLS/],
      ["no client certificate", base, /client certificate required \(mTLS\)/],
    ];
    await assertRefused(refusals);
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
