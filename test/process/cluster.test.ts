/**
 * Services as separate processes on the default stack (mux transport, host-local registry).
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import { createClient, MicroError } from "../../src/index.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { MuxTransport, splitHostPort } from "../../src/transport/mux/mux.js";
import { quiet } from "../setup/logger.js";
import { waitFor } from "../setup/wait.js";
import { fixture, type ServiceProcess, startProcess, stopAll, tempRegistry } from "./harness.js";

describe("services in separate processes", () => {
  const dir = tempRegistry();
  const env = { MICRO_REGISTRY_ADDRESS: dir, MICRO_REGISTER_TTL: "2", MICRO_REGISTER_INTERVAL: "0.5" };
  const registry = new LocalRegistry({ path: dir });
  const client = createClient({ registry, logger: quiet });
  const processes: ServiceProcess[] = [];
  after(async () => {
    stopAll(processes);
    client.close();
    await registry.close();
  });

  async function start(name: string): Promise<ServiceProcess> {
    const p = await startProcess(fixture("echo-service"), { ...env, SERVICE_NAME: name });
    processes.push(p);
    return p;
  }

  it("balances calls from a client process over two service processes", async () => {
    await Promise.all([start("echo"), start("echo")]);
    const nodes = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const rsp = await client.call<{ n: number; node: string }>("echo", "Echo.Echo", { n: i });
      assert.equal(rsp.n, i);
      nodes.add(rsp.node);
    }
    assert.equal(nodes.size, 2, "both nodes answered");
  });

  it("carries the deadline and metadata across two hops and times out at the deadline", async () => {
    await start("backend");
    await start("frontend");
    const rsp = await client.call<{ remaining: number; trace: string }>(
      "frontend",
      "Echo.Forward",
      { service: "backend", endpoint: "Echo.Remaining" },
      { timeout: 2_000, metadata: { "X-Trace-Id": "t-1" } },
    );
    assert.equal(rsp.trace, "t-1");
    assert.ok(rsp.remaining > 0 && rsp.remaining <= 2_000, `backend saw ${rsp.remaining} ms of the caller's 2000`);
    const started = Date.now();
    await assert.rejects(
      client.call("frontend", "Echo.Forward", { service: "backend", endpoint: "Echo.Slow", body: { ms: 3_000 } }, { timeout: 300 }),
      (err: unknown) => err instanceof MicroError && err.code === 408,
    );
    assert.ok(Date.now() - started < 2_500, "the caller got its 408 at its own deadline");
  });

  it("keeps idempotent calls succeeding when a node is killed with SIGKILL, and the node leaves the registry", async () => {
    const [a, b] = await Promise.all([start("load"), start("load")]);
    const victimId = (await client.call<{ node: string }>("load", "Echo.Echo", {}, { address: a.address })).node;
    let failures = 0;
    let calls = 0;
    let killed = false;
    const worker = async (): Promise<void> => {
      for (let i = 0; i < 150; i++) {
        if (i === 40 && !killed) {
          killed = true;
          a.child.kill("SIGKILL");
        }
        try {
          await client.call("load", "Echo.Echo", { i }, { idempotent: true, timeout: 5_000 });
        } catch {
          failures++;
        }
        calls++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    assert.equal(calls, 1_200);
    assert.equal(failures, 0, "no idempotent call failed");
    const gone = await waitFor(async () => !(await registry.getService("load")).some((s) => s.nodes.some((n) => n.id === victimId)), 4_000);
    assert.ok(gone, "the killed node left the registry within its TTL");
    assert.ok(
      (await registry.getService("load"))[0].nodes.some((n) => n.address === b.address),
      "the other node is still registered",
    );
  });

  it("drains calls in flight on SIGTERM, deregisters, and exits cleanly", async () => {
    const p = await start("drain");
    const slow = Array.from({ length: 5 }, () => client.call<{ aborted: boolean }>("drain", "Echo.Slow", { ms: 600 }, { address: p.address }));
    await new Promise((r) => setTimeout(r, 150));
    p.child.kill("SIGTERM");
    const results = await Promise.all(slow);
    assert.ok(
      results.every((r) => r.aborted === false),
      "every call in flight completed",
    );
    assert.equal(await p.exited, 0);
    assert.deepEqual(await registry.getService("drain"), [], "deregistered");
  });

  it("answers bad input with clear errors and keeps serving", async () => {
    const p = await start("victim");
    await assert.rejects(client.call("no-such-service", "X.Y", {}), (e: unknown) => e instanceof MicroError && e.code === 404);
    await assert.rejects(client.call("victim", "Echo.Nope", {}), (e: unknown) => e instanceof MicroError && e.code === 404 && /Echo\.Echo/.test(e.detail));

    const conn = await new MuxTransport().dial(p.address);
    const malformed = await conn.call({ header: { "Micro-Endpoint": "Echo.Echo", "Content-Type": "application/json" }, body: Buffer.from('{"broken":') });
    const err = MicroError.parse(malformed.header["Micro-Error"]);
    assert.equal(err.code, 400);
    assert.match(err.detail, /malformed application\/json request body/);
    conn.close();

    await assert.rejects(client.call("victim", "Echo.Echo", { big: "x".repeat(5 * 1024 * 1024) }), (e: unknown) => e instanceof MicroError && e.code === 413);

    for (const junk of [Buffer.from(Array.from({ length: 2048 }, () => Math.floor(Math.random() * 256))), Buffer.from("TSMUX/1\n\xff\xff\xff\xff", "latin1")]) {
      await new Promise<void>((resolve) => {
        const socket = net.connect(splitHostPort(p.address), () => socket.write(junk));
        socket.on("error", () => {});
        socket.on("close", () => resolve());
        setTimeout(() => socket.destroy(), 2_000);
      });
    }
    assert.deepEqual(await client.call("victim", "Echo.Echo", { still: "alive" }, { address: p.address }), {
      still: "alive",
      node: (await registry.getService("victim"))[0].nodes[0].id,
    });
    assert.equal(p.child.exitCode, null, "the service process is still running");
  });
});
