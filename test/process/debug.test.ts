/**
 * `micro health` and `micro stats` against running service processes, and their probe ports.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort } from "../setup/servers.js";
import { fixture, runCli, type ServiceProcess, startProcess, stopAll, tempRegistry } from "./harness.js";

describe("micro health and micro stats", () => {
  const env = { MICRO_REGISTRY_ADDRESS: tempRegistry() };
  const failFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-health-")), "fail");
  const nodes: ServiceProcess[] = [];
  const probePorts: number[] = [];
  before(async () => {
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      probePorts.push(port);
      nodes.push(await startProcess(fixture("health-service"), { ...env, HEALTH_FAIL_FILE: failFile, MICRO_HEALTH_ADDRESS: `127.0.0.1:${port}` }));
    }
  });
  after(() => {
    stopAll(nodes);
    fs.rmSync(path.dirname(failFile), { recursive: true, force: true });
  });

  it("prints ok for every node, then down with the failing check, exiting 1", async () => {
    const healthy = await runCli(["health", "checked"], env);
    assert.equal(healthy.code, 0, healthy.stderr);
    const lines = healthy.stdout.trim().split("\n");
    assert.equal(lines.length, 2);
    for (const node of nodes) {
      const line = lines.find((l) => l.includes(node.address));
      assert.match(line ?? "", /^checked-\S+ {2}\S+ {2}ok {2}cache \(not critical\): cache cold$/, healthy.stdout);
    }
    fs.writeFileSync(failFile, "");
    try {
      const down = await runCli(["health", "checked"], env);
      assert.equal(down.code, 1);
      const downLines = down.stdout.trim().split("\n");
      assert.equal(downLines.length, 2);
      for (const line of downLines) assert.match(line, / {2}down {2}dependency: dependency unreachable; cache \(not critical\): cache cold$/);
      const json = await runCli(["health", "checked", "--json"], env);
      const answers = JSON.parse(json.stdout) as { node: string; response: { status: string } }[];
      assert.deepEqual(
        answers.map((a) => a.response.status),
        ["down", "down"],
      );
    } finally {
      fs.rmSync(failFile, { force: true });
    }
  });

  it("prints each node's stats, counting the calls it served", async () => {
    await runCli(["call", "checked", "Echo.Echo", '{"a":1}', "--address", nodes[0].address], env);
    const { code, stdout, stderr } = await runCli(["stats", "checked", "--json"], env);
    assert.equal(code, 0, stderr);
    const answers = JSON.parse(stdout) as { address: string; response: Record<string, number> }[];
    assert.equal(answers.length, 2);
    for (const { response } of answers) {
      assert.deepEqual(Object.keys(response).sort(), ["errors", "gc", "memory", "requests", "started", "threads", "timestamp", "uptime"]);
      assert.ok(response.memory > 0);
    }
    const first = answers.find((a) => a.address === nodes[0].address)!.response;
    const second = answers.find((a) => a.address === nodes[1].address)!.response;
    // The first node served the Echo call on top of what both served alike.
    assert.equal(first.requests - second.requests, 1, stdout);
    const text = await runCli(["stats", "checked"], env);
    assert.equal(text.code, 0);
    assert.equal(text.stdout.trim().split("\n").length, 2);
    assert.match(text.stdout, /uptime \d+s {2}memory [\d.]+MiB {2}in-flight 1 {2}gc [\d.]+ms {2}requests \d+ {2}errors \d+/);
  });

  it("answers probes over HTTP: 200 while healthy, 503 while a critical check fails", async () => {
    const url = `http://127.0.0.1:${probePorts[0]}`;
    const ready = await fetch(`${url}/health/ready`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { status: string }).status, "up");
    fs.writeFileSync(failFile, "");
    try {
      const down = await fetch(`${url}/health`);
      assert.equal(down.status, 503);
      const body = (await down.json()) as { status: string; checks: { name: string; status: string; error?: string }[] };
      assert.equal(body.status, "down");
      assert.deepEqual(
        body.checks.find((c) => c.name === "dependency"),
        body.checks.find((c) => c.status === "down" && c.name === "dependency"),
      );
      assert.equal(body.checks.find((c) => c.name === "dependency")?.error, "dependency unreachable");
      assert.equal((await fetch(`${url}/health/ready`)).status, 503);
      assert.equal((await fetch(`${url}/health/live`)).status, 200);
    } finally {
      fs.rmSync(failFile, { force: true });
    }
    assert.equal((await fetch(`${url}/health`)).status, 200);
  });

  it("reports a service with no nodes, and refuses a missing name", async () => {
    const missing = await runCli(["health", "nobody"], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /service nobody not found/);
    const usage = await runCli(["stats"], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /stats needs a service name/);
  });
});
