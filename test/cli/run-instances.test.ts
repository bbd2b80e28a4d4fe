/**
 * `micro run --instances N` and a service's `instances` in micro.mu: N processes of one service,
 * each its own node in the registry with its own port, every call served by one of them (the
 * selector spreads calls over the nodes), log lines prefixed with the instance, a file change
 * restarting every instance, and Ctrl-C stopping them all with no registry record left.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { LocalRegistry } from "../../src/registry/local.js";
import { createClient } from "../../src/service/create-client.js";
import { distRoot, runCli, tempRegistry } from "../process/harness.js";
import { quiet } from "../setup/logger.js";
import { waitFor } from "../setup/wait.js";
import { alive, type RunProcess, startRun, status } from "./run-harness.js";

const tsMicro = pathToFileURL(path.join(distRoot, "src", "index.js")).href;

/** A service that says which process served the call. */
const WORKER = (version: string): string => `import { createService } from ${JSON.stringify(tsMicro)};
class Worker {
  async Who(_req: unknown): Promise<{ pid: number; instance: string; version: string }> {
    return { pid: process.pid, instance: process.env.MICRO_INSTANCE ?? "", version: ${JSON.stringify(version)} };
  }
}
const service = createService({ name: "worker" });
service.handle(new Worker());
await service.run();
`;

interface Who {
  pid: number;
  instance: string;
  version: string;
}

describe("micro run --instances", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-instances-"));
  const env = { MICRO_REGISTRY_ADDRESS: tempRegistry(), MICRO_RUN_DIR: path.join(root, ".run"), MICRO_LOG_LEVEL: "info" };
  const registry = new LocalRegistry({ path: env.MICRO_REGISTRY_ADDRESS, logger: quiet });
  const client = createClient({ registry, logger: quiet });
  let running: RunProcess | undefined;

  fs.writeFileSync(path.join(root, "package.json"), JSON.stringify({ type: "module", micro: { entry: "main.ts", name: "worker" } }));
  fs.writeFileSync(path.join(root, "main.ts"), WORKER("one"));

  after(async () => {
    await running?.stop("SIGKILL").catch(() => {});
    await client.close();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(env.MICRO_REGISTRY_ADDRESS, { recursive: true, force: true });
  });

  /** The distinct processes that answer `calls` calls. */
  async function servers(calls: number): Promise<Map<number, Who>> {
    const seen = new Map<number, Who>();
    for (let i = 0; i < calls; i++) {
      const who = await client.call<Who>("worker", "Worker.Who", {}, { timeout: 5_000 });
      seen.set(who.pid, who);
    }
    return seen;
  }

  it("registers two nodes, each with its own port, and calls are served by both", async () => {
    running = startRun(["--no-gateway", "--instances", "2"], env, root);
    await running.waitFor(/worker\.1 \| .*"service started"/);
    await running.waitFor(/worker\.2 \| .*"service started"/);
    assert.match(running.output(), /micro run: worker ×2 /);
    const [service] = await registry.getService("worker");
    const nodes = service?.nodes ?? [];
    assert.equal(nodes.length, 2, JSON.stringify(nodes));
    assert.notEqual(nodes[0]!.id, nodes[1]!.id);
    assert.notEqual(nodes[0]!.address, nodes[1]!.address);
    // The random selector over two nodes: 40 calls all on one node has odds of 2^-39.
    const seen = await servers(40);
    assert.equal(seen.size, 2, `pids seen: ${[...seen.keys()].join(", ")}`);
    assert.deepEqual([...seen.values()].map((w) => w.instance).sort(), ["1", "2"]);
    const entries = await status(env);
    assert.deepEqual(entries.map((e) => e.name).sort(), ["worker.1", "worker.2"]);
    assert.deepEqual(entries.map((e) => e.pid).sort(), [...seen.keys()].sort());
    const log = await runCli(["logs", "worker.2"], env);
    assert.match(log.stdout, /\[micro\] started \(pid \d+\)/);
  });

  it("restarts every instance when a file changes", async () => {
    assert.ok(running, "the previous test left micro run running");
    const nodeIds = async (): Promise<string[]> => ((await registry.getService("worker"))[0]?.nodes ?? []).map((n) => n.id);
    const old = new Set(await nodeIds());
    fs.writeFileSync(path.join(root, "main.ts"), WORKER("two"));
    await running.waitFor(/worker\.1 \| \[micro\] restarting: main\.ts changed/);
    await running.waitFor(/worker\.2 \| \[micro\] restarting: main\.ts changed/);
    // Two new nodes registered, the old ones gone from the registry.
    const replaced = await waitFor(async () => {
      const ids = await nodeIds();
      return ids.length === 2 && ids.every((id) => !old.has(id));
    }, 60_000);
    assert.ok(replaced, `after the change: ${running.output()}`);
    // The client's cache hears of them through its watch.
    const served = await waitFor(
      async () => (await client.call<Who>("worker", "Worker.Who", {}, { timeout: 5_000 }).catch(() => undefined))?.version === "two",
      30_000,
    );
    assert.ok(served, `the new code never answered: ${running.output()}`);
    const seen = await servers(40);
    assert.equal(seen.size, 2);
    for (const who of seen.values()) assert.equal(who.version, "two");
    for (const entry of await status(env)) assert.equal(entry.restarts, 1, entry.name);
  });

  it("Ctrl-C stops every instance and leaves no registry record", async () => {
    const pids = (await status(env)).map((e) => e.pid);
    assert.equal(await running!.stop("SIGINT"), 0);
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} still runs`);
    assert.deepEqual(await registry.getService("worker"), []);
    assert.match(running!.output(), /worker\.1 \| \[micro\] stopped/);
    assert.match(running!.output(), /worker\.2 \| \[micro\] stopped/);
  });

  it("refuses a bad count and instances that would share a fixed port", async () => {
    const zero = await runCli(["run", "--no-gateway", "--instances", "0", root], env);
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /run: --instances "0" is not a whole number from 1 to 64/);
    const fixed = await runCli(["run", "--no-gateway", "--instances", "2", root], { ...env, MICRO_SERVER_ADDRESS: "127.0.0.1:9999" });
    assert.equal(fixed.code, 2);
    assert.match(fixed.stderr, /worker runs 2 instances, which cannot share MICRO_SERVER_ADDRESS=127\.0\.0\.1:9999/);
  });
});

describe("instances in micro.mu", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-instances-mu-"));
  const env = { MICRO_REGISTRY_ADDRESS: tempRegistry(), MICRO_RUN_DIR: path.join(root, ".run"), MICRO_LOG_LEVEL: "info" };
  const registry = new LocalRegistry({ path: env.MICRO_REGISTRY_ADDRESS, logger: quiet });
  let running: RunProcess | undefined;

  fs.writeFileSync(path.join(root, "package.json"), JSON.stringify({ type: "module" }));
  fs.mkdirSync(path.join(root, "worker"));
  fs.writeFileSync(path.join(root, "worker", "main.ts"), WORKER("one"));
  fs.writeFileSync(path.join(root, "micro.mu"), "service worker\n    instances 3\n");

  after(async () => {
    await running?.stop("SIGKILL").catch(() => {});
    await registry.close();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(env.MICRO_REGISTRY_ADDRESS, { recursive: true, force: true });
  });

  it("runs the service's own count, over --instances", async () => {
    running = startRun(["--no-gateway", "--no-watch", "--instances", "2"], env, root);
    for (const i of [1, 2, 3]) await running.waitFor(new RegExp(`worker\\.${i} \\| .*"service started"`));
    assert.equal((await registry.getService("worker"))[0]?.nodes.length, 3);
    assert.equal(await running.stop("SIGINT"), 0);
    assert.deepEqual(await registry.getService("worker"), []);
  });
});
