/**
 * Health while the registry is down (the gateway on an etcd registry of its own, killed and
 * restarted): live stays up, ready goes 503 and back; a service already known keeps being called.
 * And `micro gateway` as a user runs it: prints its address, serves, stops on SIGTERM.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import { EtcdRegistry } from "../../src/registry/etcd.js";
import { cli, fixture, runCli, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { quiet } from "../setup/logger.js";
import { freePort, type OwnedServer, privateEtcd } from "../setup/servers.js";
import { waitFor } from "../setup/wait.js";
import { openStream, post, request } from "./http.js";

describe("gateway health while the registry is down", () => {
  let etcd: OwnedServer;
  let registry: EtcdRegistry;
  let service: ServiceProcess;
  let gateway: Gateway;

  before(async () => {
    etcd = privateEtcd(await freePort());
    await etcd.start();
    const env = { MICRO_REGISTRY: "etcd", MICRO_REGISTRY_ADDRESS: etcd.address };
    service = await startProcess(fixture("gateway-service"), env);
    registry = new EtcdRegistry({ hosts: etcd.address, timeout: 500, logger: quiet });
    gateway = await createGateway({ address: "127.0.0.1:0", registry, logger: quiet, healthTimeout: 1_000 });
  });
  after(async () => {
    await gateway.close();
    stopAll([service]);
    await registry.close();
    await etcd.dispose();
  });

  it("stays live, turns unready while etcd is down, and ready again when it is back", async () => {
    // The first listing also connects to etcd (and loads its driver): on a busy machine it may
    // take longer than the probe's bound, so readiness is waited for, not assumed.
    assert.ok(await waitFor(async () => (await request(`${gateway.url}/health/ready`)).status === 200, 20_000), "never ready with etcd up");
    const hello = `${gateway.url}/api/gw/Greeter/Hello`;
    assert.equal((await post(hello, { name: "Ada" })).status, 200);
    await etcd.stop();
    const ready = await request(`${gateway.url}/health/ready`);
    assert.equal(ready.status, 503, ready.text);
    const report = ready.json<{ status: string; checks: Array<{ name: string; status: string; error?: string }> }>();
    assert.equal(report.status, "down");
    assert.equal(report.checks[0].name, "registry");
    assert.equal(report.checks[0].status, "down");
    assert.ok(report.checks[0].error);
    assert.equal((await request(`${gateway.url}/health`)).status, 503);
    assert.deepEqual((await request(`${gateway.url}/health/live`)).json(), { status: "up" });
    // The known service is still called, from the cache.
    const cached = await post(hello, { name: "Ada" });
    assert.equal(cached.status, 200, cached.text);
    await etcd.start();
    assert.ok(await waitFor(async () => (await request(`${gateway.url}/health/ready`)).status === 200, 20_000), "ready did not come back with etcd");
  });
});

describe("micro gateway", () => {
  const dir = tempRegistry();
  let service: ServiceProcess;

  before(async () => {
    service = await startProcess(fixture("gateway-service"), { MICRO_REGISTRY_ADDRESS: dir });
  });
  after(() => stopAll([service]));

  it("prints the address it listens on, serves, and stops on SIGTERM", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [cli, "gateway", "--address", `127.0.0.1:${port}`], {
      env: { ...process.env, MICRO_REGISTRY_ADDRESS: dir, MICRO_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      assert.ok(await waitFor(() => output.includes("listening"), 10_000), `no address printed: ${output}`);
      assert.match(output, new RegExp(`gateway listening on 127\\.0\\.0\\.1:${port} \\(http://127\\.0\\.0\\.1:${port}\\)`));
      const reply = await post(`http://127.0.0.1:${port}/api/gw/Greeter/Hello`, { name: "Ada" });
      assert.deepEqual(reply.json(), { msg: "Hello Ada" });
      // A stream that would never end does not keep the gateway from stopping.
      const stream = await openStream(`http://127.0.0.1:${port}/api/gw/Probe/Ticks`, {}, { Accept: "text/event-stream" });
      assert.ok(await waitFor(() => stream.text().includes("data:"), 10_000), "the stream sent nothing");
      child.kill("SIGTERM");
      assert.equal(await exited, 0, output);
      await stream.ended;
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("exits 1 saying so when its port is taken", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = taken.address() as net.AddressInfo;
      const result = await runCli(["gateway", "--address", `127.0.0.1:${port}`], { MICRO_REGISTRY_ADDRESS: dir });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /EADDRINUSE/);
    } finally {
      taken.close();
    }
  });
});
