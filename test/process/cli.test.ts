/**
 * The `micro` CLI against a real service process.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli, fixture, runCli, type ServiceProcess, startProcess, stopAll, tempRegistry } from "./harness.js";

/** Runs the CLI with a terminal as stdin (util-linux `script` gives it a pty); stdout and stderr come back together. */
function runCliOnTerminal(args: string[], env: Record<string, string>): { code: number | null; output: string } {
  const command = [process.execPath, cli, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const result = spawnSync("script", ["-qec", command, "/dev/null"], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 15_000 });
  return { code: result.status, output: result.stdout };
}

describe("micro CLI", () => {
  const env = { MICRO_REGISTRY_ADDRESS: tempRegistry() };
  let service: ServiceProcess;
  before(async () => {
    service = await startProcess(fixture("greeter-service"), env);
  });
  after(() => stopAll([service]));

  it("lists services, the HTTP broker's own only with --all", async () => {
    const { code, stdout } = await runCli(["services"], env);
    assert.equal(code, 0);
    assert.deepEqual(stdout.trim().split("\n"), ["greeter"]);
    const all = await runCli(["services", "--all"], env);
    assert.deepEqual(all.stdout.trim().split("\n"), ["greeter", "micro.http.broker"]);
  });

  it("describes subscriptions in their own section, not as endpoints", async () => {
    const { code, stdout } = await runCli(["describe", "greeter"], env);
    assert.equal(code, 0);
    const [endpoints, subscriptions] = stdout.split("subscriptions:");
    assert.ok(subscriptions, stdout);
    assert.doesNotMatch(endpoints ?? "", /greeting\.sent|topic=/);
    assert.match(subscriptions, /^ {2}greeting\.sent {2}\(queue=audit handler=\S+\)$/m);
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
    assert.ok(missing.stderr.includes(`hint: no node of nobody is in the local registry (${env.MICRO_REGISTRY_ADDRESS})`), missing.stderr);
  });

  it("rejects invalid JSON and unknown commands with usage and exit 2", async () => {
    const bad = await runCli(["call", "greeter", "Greeter.Hello", "{name:"], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not valid JSON/);
    const unknown = await runCli(["frobnicate"], env);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, "micro: unknown command \"frobnicate\"\nRun 'micro --help' for usage.\n");
    const option = await runCli(["services", "--colour"], env);
    assert.equal(option.code, 2);
    assert.equal(option.stderr.trim().split("\n").length, 2, option.stderr);
    assert.match(option.stderr, /--colour/);
    const help = await runCli(["--help"], env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: micro/);
  });

  it("reports an unknown service as a 404 error, with a hint naming the registry", async () => {
    const { code, stderr } = await runCli(["call", "nobody", "X.Y", "{}"], env);
    assert.equal(code, 1);
    const [error, hint] = stderr.trim().split("\n");
    assert.equal(JSON.parse(error ?? "").code, 404);
    assert.equal(
      hint,
      `hint: no node of nobody is in the local registry (${env.MICRO_REGISTRY_ADDRESS}). Is it running, with the same MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS as this command? \`micro services\` lists what is registered.`,
    );
  });

  it("points a call on a stream endpoint to micro stream", async () => {
    const { code, stderr } = await runCli(["call", "greeter", "Greeter.Count", '{"to":2}'], env);
    assert.equal(code, 1);
    const [error, hint] = stderr.trim().split("\n");
    assert.equal(JSON.parse(error ?? "").code, 400);
    assert.equal(hint, "hint: Greeter.Count is a stream endpoint: open it with `micro stream greeter Greeter.Count '<json>'`");
  });

  it("micro stream without a request on a terminal says what it expects instead of waiting", () => {
    const { code, output } = runCliOnTerminal(["stream", "greeter", "Greeter.Count"], env);
    assert.equal(code, 2, output);
    assert.match(output, /give the request as JSON for a server stream/);
    assert.match(output, /or - to send each line of stdin/);
  });

  it("names itself ts-micro when run as ts-micro", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-bin-"));
    const bin = path.join(dir, "ts-micro");
    fs.symlinkSync(cli, bin);
    try {
      const result = spawnSync(process.execPath, [bin, "frobnicate"], { encoding: "utf8", timeout: 15_000 });
      assert.equal(result.status, 2);
      assert.equal(result.stderr, "ts-micro: unknown command \"frobnicate\"\nRun 'ts-micro --help' for usage.\n");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
