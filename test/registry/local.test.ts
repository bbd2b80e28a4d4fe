import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { defaultLocalRegistryPath, LocalRegistry } from "../../src/registry/local.js";
import type { Registry, ServiceRecord } from "../../src/registry/registry.js";
import { resolveRegistry } from "../../src/service/resolve.js";
import { makeService, nextEvent, within } from "../conformance/registry.js";
import { eventually } from "../setup/wait.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/register-node.js", import.meta.url));
const TEST = { timeout: 15_000 };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-local-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open(options: ConstructorParameters<typeof LocalRegistry>[0]): LocalRegistry {
  const registry = new LocalRegistry(options);
  cleanups.push(() => registry.close());
  return registry;
}

/** Starts a node in a child process and resolves once it has registered. */
async function spawnNode(dir: string, name: string, ttl: number, interval: number): Promise<{ child: ChildProcess; nodeId: string }> {
  const nodeId = `${name}-${randomUUID()}`;
  const child = spawn(process.execPath, [FIXTURE, dir, name, nodeId, String(ttl), String(interval)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  cleanups.push(() => {
    child.kill("SIGKILL");
  });
  const registered = new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (data: Buffer) => data.toString().includes("registered") && resolve());
    child.once("exit", (code) => reject(new Error(`fixture exited with ${code}`)));
  });
  await within(registered, "the child to register", 10_000);
  return { child, nodeId };
}

async function nodeIdsOf(registry: Registry, name: string): Promise<string[]> {
  return (await registry.getService(name)).flatMap((s: ServiceRecord) => s.nodes.map((n) => n.id));
}

describe("LocalRegistry across processes", () => {
  it("sees a node of another process, and loses it at once when that process is killed", TEST, async () => {
    const dir = tempDir();
    const registry = open({ path: dir });
    const name = `cross-${randomUUID().slice(0, 8)}`;
    const watcher = registry.watch({ service: name });

    // TTL and heartbeat far beyond the test's deadlines: only the pid check can remove the node.
    const { child, nodeId } = await spawnNode(dir, name, 60_000, 20_000);
    assert.deepEqual(await nodeIdsOf(registry, name), [nodeId]);
    const created = await nextEvent(watcher, () => true);
    assert.equal(created.action, "create");
    assert.equal(created.service.nodes[0].id, nodeId);

    child.kill("SIGKILL");
    const deleted = await nextEvent(watcher, (e) => e.action === "delete");
    assert.equal(deleted.service.nodes[0].id, nodeId);
    await eventually(async () => assert.deepEqual(await nodeIdsOf(registry, name), []));
    await eventually(() => assert.deepEqual(fs.readdirSync(dir), []), 3_000); // the dead record was deleted
    watcher.stop();
  });

  it("without the pid check, a killed node goes when its TTL runs out", TEST, async () => {
    const dir = tempDir();
    const registry = open({ path: dir, checkPid: false });
    const name = `ttl-${randomUUID().slice(0, 8)}`;
    const watcher = registry.watch({ service: name });

    const ttl = 1_000;
    const { child, nodeId } = await spawnNode(dir, name, ttl, 200);
    assert.equal((await nextEvent(watcher, () => true)).action, "create");
    child.kill("SIGKILL");
    // TTL plus one rescan, with generous slack for a loaded machine.
    const deleted = await nextEvent(watcher, (e) => e.action === "delete", ttl + 4_000);
    assert.equal(deleted.service.nodes[0].id, nodeId);
    assert.deepEqual(await nodeIdsOf(registry, name), []);
    watcher.stop();
  });

  it("a heartbeat does not emit an event", TEST, async () => {
    const dir = tempDir();
    const registry = open({ path: dir, rescanInterval: 50 });
    const service = makeService(`beat-${randomUUID().slice(0, 8)}`, "1.0.0", ["a"]);
    const watcher = registry.watch();
    await registry.register(service);
    assert.equal((await nextEvent(watcher, () => true)).action, "create");
    for (let i = 0; i < 5; i++) await registry.register(service); // heartbeats
    await registry.register({ ...service, metadata: { changed: "yes" } }); // a real change
    const next = await nextEvent(watcher, () => true);
    assert.equal(next.action, "update");
    assert.deepEqual(next.service.metadata, { changed: "yes" });
    watcher.stop();
  });
});

describe("LocalRegistry files", () => {
  it("ignores corrupt and foreign files", TEST, async () => {
    const dir = tempDir();
    const registry = open({ path: dir });
    const watcher = registry.watch();
    const service = makeService(`tidy-${randomUUID().slice(0, 8)}`, "1.0.0", ["a"]);
    const garbage: Record<string, string> = {
      [`${service.name}~broken.json`]: '{"service": {"name": ',
      [`${service.name}~empty.json`]: "",
      [`${service.name}~array.json`]: "[1, 2, 3]",
      [`${service.name}~shape.json`]: JSON.stringify({ service: { name: service.name }, expiresAt: "soon", pid: -1 }),
      [`${service.name}~nodes.json`]: JSON.stringify({ service: { ...service, nodes: [] }, expiresAt: Date.now() + 60_000, pid: 1 }),
      "README.txt": "not a record",
    };
    for (const [file, text] of Object.entries(garbage)) fs.writeFileSync(path.join(dir, file), text);

    await registry.register(service);
    assert.deepEqual(await registry.getService(service.name), [service]);
    assert.deepEqual(
      (await registry.listServices()).map((s) => s.name),
      [service.name],
    );
    const event = await nextEvent(watcher, () => true);
    assert.equal(event.action, "create");
    assert.equal(event.service.name, service.name);
    watcher.stop();
  });

  it("encodes awkward service names and node ids safely", TEST, async () => {
    const dir = tempDir();
    const registry = open({ path: dir });
    const names = ["a/b", "../escape", "tilde~name", "x".repeat(300), "ünïcödé space"];
    for (const name of names) {
      await registry.register({ ...makeService(name, "1", []), nodes: [{ id: `${name}~/..`, address: "h:1", metadata: null }] });
    }
    for (const name of names) assert.deepEqual(await nodeIdsOf(registry, name), [`${name}~/..`]);
    assert.equal(fs.readdirSync(dir).length, names.length); // all inside the directory
    assert.deepEqual(await nodeIdsOf(registry, "tilde"), []); // a prefix of another name
  });

  it("deletes expired records", TEST, async () => {
    const dir = tempDir();
    const registry = open({ path: dir });
    const service = makeService(`expired-${randomUUID().slice(0, 8)}`, "1.0.0", ["a"]);
    await registry.register(service, { ttl: 1 });
    await eventually(async () => assert.deepEqual(await registry.getService(service.name), []));
    await eventually(() => assert.deepEqual(fs.readdirSync(dir), []));
  });

  it("creates its directory with mode 0700", TEST, () => {
    const dir = path.join(tempDir(), "nested", "registry");
    open({ path: dir });
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  });

  it("refuses a given directory that other users can write to", () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o777);
    assert.throws(() => new LocalRegistry({ path: dir }), /local registry: .* is writable by other users \(mode 0777\)/);
    fs.chmodSync(dir, 0o770);
    assert.throws(() => new LocalRegistry({ path: dir }), /is writable by other users \(mode 0770\)/);
    fs.chmodSync(dir, 0o700);
    open({ path: dir });
  });

  it("refuses a directory owned by another user, also when named by MICRO_REGISTRY_ADDRESS", () => {
    // As root, a directory handed to another uid; otherwise the root directory, which is root's.
    let foreign = "/";
    if (process.getuid?.() === 0) {
      foreign = tempDir();
      fs.chownSync(foreign, 54321, 54321);
    }
    const saved = process.env.MICRO_REGISTRY_ADDRESS;
    process.env.MICRO_REGISTRY_ADDRESS = foreign;
    try {
      assert.throws(() => resolveRegistry("local"), /local registry: .* is owned by uid \d+, not by this process's uid/);
    } finally {
      if (saved === undefined) delete process.env.MICRO_REGISTRY_ADDRESS;
      else process.env.MICRO_REGISTRY_ADDRESS = saved;
    }
  });

  it("defaults to XDG_RUNTIME_DIR when it is writable, else the temp directory", () => {
    const runtime = tempDir();
    assert.equal(defaultLocalRegistryPath({ XDG_RUNTIME_DIR: runtime }), path.join(runtime, "micro", "registry"));
    const fallback = defaultLocalRegistryPath({ XDG_RUNTIME_DIR: path.join(runtime, "missing") });
    assert.ok(fallback.startsWith(path.join(os.tmpdir(), "micro-")), fallback);
    assert.ok(fallback.endsWith(path.join("", "registry")), fallback);
  });
});
