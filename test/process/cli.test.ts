/**
 * The `micro` CLI against a real service process.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fixture, runCli, type ServiceProcess, startProcess, stopAll, tempRegistry } from "./harness.js";

describe("micro CLI", () => {
  const env = { MICRO_REGISTRY_ADDRESS: tempRegistry() };
  let service: ServiceProcess;
  before(async () => {
    service = await startProcess(fixture("greeter-service"), env);
  });
  after(() => stopAll([service]));

  it("lists services", async () => {
    const { code, stdout } = await runCli(["services"], env);
    assert.equal(code, 0);
    assert.deepEqual(stdout.trim().split("\n"), ["greeter"]);
  });

  it("describes a service for people and as JSON", async () => {
    const human = await runCli(["describe", "greeter"], env);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /service\s+greeter/);
    assert.match(human.stdout, /Greeter\.Hello/);
    assert.ok(human.stdout.includes(service.address));
    const json = await runCli(["describe", "greeter", "--json"], env);
    const [record] = JSON.parse(json.stdout);
    assert.equal(record.name, "greeter");
    assert.equal(record.version, "1.0.0");
    assert.equal(record.nodes[0].address, service.address);
    assert.equal(record.nodes[0].metadata.protocol, "mucp");
    assert.ok(record.endpoints.some((e: { name: string }) => e.name === "Greeter.Hello"));
  });

  it("calls an endpoint and prints the JSON response", async () => {
    const { code, stdout, stderr } = await runCli(["call", "greeter", "Greeter.Hello", '{"name":"Ada"}'], env);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, '{"msg":"Hello Ada"}\n');
  });

  it("prints the error JSON on stderr and exits non-zero", async () => {
    const { code, stdout, stderr } = await runCli(["call", "greeter", "Greeter.Hello", "{}"], env);
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.deepEqual(JSON.parse(stderr), { id: "greeter", code: 400, detail: "name is required", status: "Bad Request" });
  });

  it("sends metadata and honours --timeout", async () => {
    const ok = await runCli(["call", "greeter", "Greeter.Hello", '{"name":"Bo"}', "--timeout", "2s", "--metadata", "X-Trace-Id=1"], env);
    assert.equal(ok.code, 0, ok.stderr);
    const missing = await runCli(["describe", "nobody"], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /service nobody not found/);
  });

  it("rejects invalid JSON and unknown commands with usage and exit 2", async () => {
    const bad = await runCli(["call", "greeter", "Greeter.Hello", "{name:"], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not valid JSON/);
    const unknown = await runCli(["frobnicate"], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /usage: micro/);
  });

  it("reports an unknown service as a 404 error", async () => {
    const { code, stderr } = await runCli(["call", "nobody", "X.Y", "{}"], env);
    assert.equal(code, 1);
    assert.equal(JSON.parse(stderr).code, 404);
  });
});
