/**
 * `micro sync lock` and `micro sync elect` as real processes on etcd (a private server) and the
 * shared Redis: commands under one lock never overlap and their exit codes come through; a command
 * whose leadership is taken away gets SIGTERM; signals reach the command and the lock is released.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { cli, runCli } from "../process/harness.js";
import { freePort, privateEtcd, requireServer, SERVERS } from "../setup/servers.js";

const etcd = privateEtcd(await freePort());
await etcd.start();
after(() => etcd.dispose());

const REDIS = `127.0.0.1:${SERVERS.redis.port}`;
const backends = [
  { name: "etcd", env: { MICRO_SYNC: "etcd", MICRO_SYNC_ADDRESS: etcd.address } },
  { name: "redis", env: { MICRO_SYNC: "redis", MICRO_SYNC_ADDRESS: REDIS } },
];

/** A command that records its run in FILE (start, then end 150 ms later, with its fencing token) and exits with CODE. */
const RECORDER = `
const fs = require("node:fs");
fs.appendFileSync(process.env.FILE, "start " + process.env.ID + " " + process.env.MICRO_SYNC_TOKEN + "\\n");
setTimeout(() => {
  fs.appendFileSync(process.env.FILE, "end " + process.env.ID + "\\n");
  process.exit(Number(process.env.CODE));
}, 150);`;

/** A command that says it runs, then waits; on SIGTERM it writes SIGTERM to FILE and exits with CODE. */
const WAITER = `
const fs = require("node:fs");
process.on("SIGTERM", () => {
  fs.appendFileSync(process.env.FILE, "SIGTERM");
  process.exit(Number(process.env.CODE));
});
console.log("running");
setInterval(() => {}, 1000);`;

function tempFile(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-sync-cli-")), "log");
}

/** Starts micro in the background; `running` resolves when its command printed "running". */
function startCli(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const running = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`micro ${args.join(" ")} did not start its command in 20 s; stderr: ${stderr}`)), 20_000);
    child.stdout.on("data", () => {
      if (!stdout.includes("running")) return;
      clearTimeout(timer);
      resolve();
    });
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`micro exited before its command ran; stderr: ${stderr}`));
    });
  });
  running.catch(() => {});
  return { child, exited, running, stderr: () => stderr };
}

for (const backend of backends) {
  describe(`micro sync lock on ${backend.name}`, () => {
    before(async () => {
      if (backend.name === "redis") await requireServer("Redis", SERVERS.redis.port, SERVERS.redis.start);
    });

    it("runs the commands of 3 processes one at a time and passes each exit code through", { timeout: 90_000 }, async () => {
      const file = tempFile();
      const name = `cli-${randomUUID().slice(0, 8)}`;
      const runs = [0, 3, 7].map((code, i) =>
        runCli(
          ["sync", "lock", name, "--ttl", "5s", "--", process.execPath, "-e", RECORDER],
          { ...backend.env, FILE: file, ID: `p${i}`, CODE: String(code) },
          60_000,
        ),
      );
      const results = await Promise.all(runs);
      assert.deepEqual(
        results.map((r) => r.code),
        [0, 3, 7],
        results.map((r) => r.stderr).join("\n"),
      );
      const lines = fs.readFileSync(file, "utf8").trim().split("\n");
      assert.equal(lines.length, 6);
      const tokens: bigint[] = [];
      for (let i = 0; i < lines.length; i += 2) {
        const [, id, token] = lines[i].split(" ");
        assert.equal(lines[i + 1], `end ${id}`, `a command started while another held the lock:\n${lines.join("\n")}`);
        tokens.push(BigInt(token));
      }
      assert.ok(
        tokens.every((t, i) => i === 0 || t > tokens[i - 1]),
        `fencing tokens increase: ${tokens.join(", ")}`,
      );
    });

    it("gives up after --wait with exit 1, and refuses a missing command with exit 2", { timeout: 60_000 }, async () => {
      const file = tempFile();
      const name = `cli-${randomUUID().slice(0, 8)}`;
      const holder = startCli(["sync", "lock", name, "--ttl", "5s", "--", process.execPath, "-e", WAITER], { ...backend.env, FILE: file, CODE: "0" });
      await holder.running;
      const late = await runCli(["sync", "lock", name, "--wait", "300ms", "--", "true"], backend.env, 30_000);
      assert.equal(late.code, 1);
      assert.match(late.stderr, /not acquired within 300 ms/);
      holder.child.kill("SIGTERM");
      assert.equal(await holder.exited, 0);
      const usage = await runCli(["sync", "lock", name], backend.env);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /needs a name and a command/);
    });
  });
}

describe("micro sync on redis: signals, lost leadership, release", () => {
  const redis = new Redis(REDIS, { lazyConnect: true });
  const env = backends[1].env;
  before(() => requireServer("Redis", SERVERS.redis.port, SERVERS.redis.start));
  after(() => redis.disconnect());

  it("sends SIGTERM to the command when leadership is lost, and exits non-zero", { timeout: 60_000 }, async () => {
    const file = tempFile();
    const name = `cli-${randomUUID().slice(0, 8)}`;
    const elect = startCli(["sync", "elect", name, "--ttl", "1s", "--", process.execPath, "-e", WAITER], { ...env, FILE: file, CODE: "0" });
    await elect.running;
    // Take the leadership away: its key disappears, so the next renewal finds it gone.
    assert.equal(await redis.del(`micro:sync:lock:${name}`), 1);
    const code = await elect.exited;
    assert.equal(fs.readFileSync(file, "utf8"), "SIGTERM");
    assert.notEqual(code, 0);
    assert.match(elect.stderr(), /lost/);
  });

  it("passes SIGTERM on to the command, releases the lock and exits with the command's code", { timeout: 60_000 }, async () => {
    const file = tempFile();
    const name = `cli-${randomUUID().slice(0, 8)}`;
    const lock = startCli(["sync", "lock", name, "--ttl", "30s", "--", process.execPath, "-e", WAITER], { ...env, FILE: file, CODE: "5" });
    await lock.running;
    assert.equal(await redis.exists(`micro:sync:lock:${name}`), 1);
    lock.child.kill("SIGTERM");
    assert.equal(await lock.exited, 5);
    assert.equal(fs.readFileSync(file, "utf8"), "SIGTERM");
    assert.equal(await redis.exists(`micro:sync:lock:${name}`), 0, "released at once, not left to its 30 s TTL");
  });

  it("resigns when the command exits, so the next candidate is elected at once", { timeout: 60_000 }, async () => {
    const name = `cli-${randomUUID().slice(0, 8)}`;
    const first = await runCli(["sync", "elect", name, "--ttl", "30s", "--", process.execPath, "-e", "process.exit(4)"], env, 30_000);
    assert.equal(first.code, 4, first.stderr);
    assert.equal(await redis.exists(`micro:sync:lock:${name}`), 0);
    const second = await runCli(
      ["sync", "elect", name, "--ttl", "30s", "--", process.execPath, "-e", "console.log(process.env.MICRO_SYNC_TOKEN)"],
      env,
      30_000,
    );
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^\d+\n$/);
  });

  it("refuses the memory backend, which excludes nothing across processes", async () => {
    const memory = await runCli(["sync", "lock", "x", "--", "true"], { MICRO_SYNC: "memory" });
    assert.equal(memory.code, 2);
    assert.match(memory.stderr, /needs a shared backend/);
  });
});
