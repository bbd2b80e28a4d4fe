/**
 * Locks across processes, on etcd (a private server), Redis and NATS (the shared ones): five processes
 * bump one counter file 200 times under the lock, and a holder or leader killed with SIGKILL is
 * replaced within its TTL plus one second.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { distRoot, type ServiceProcess, startProcess } from "../process/harness.js";
import { privateEtcd, requireServer, requireSharedNats, SERVERS } from "../setup/servers.js";

const contender = path.join(distRoot, "test", "sync", "fixtures", "contender.js");
const TTL = 2_000;

const etcd = privateEtcd(23990);
await etcd.start();
after(() => etcd.dispose());

const backends: { name: string; env: Record<string, string> }[] = [
  { name: "etcd", env: { SYNC: "etcd", SYNC_ADDRESS: `127.0.0.1:${etcd.port}` } },
  { name: "redis", env: { SYNC: "redis", SYNC_ADDRESS: "127.0.0.1:6379", SYNC_PREFIX: `test:sync:${randomUUID().slice(0, 8)}:` } },
  { name: "nats", env: { SYNC: "nats", SYNC_ADDRESS: "127.0.0.1:4222", SYNC_BUCKET: `test_sync_${randomUUID().slice(0, 8)}` } },
];

/** The bucket the NATS contenders made, removed from the shared server afterwards. */
after(async () => {
  const nc = await connect({ servers: "127.0.0.1:4222" }).catch(() => undefined);
  if (!nc) return;
  const bucket = backends.find((b) => b.name === "nats")!.env.SYNC_BUCKET;
  await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`).catch(() => {});
  await nc.close();
});

for (const backend of backends) {
  describe(`sync across processes: ${backend.name}`, () => {
    const children: ServiceProcess[] = [];
    before(async () => {
      if (backend.name === "redis") await requireServer("Redis", SERVERS.redis.port, SERVERS.redis.start);
      if (backend.name === "nats") await requireSharedNats();
    });
    after(() => {
      for (const c of children) c.child.kill("SIGKILL");
    });
    const start = async (env: Record<string, string>): Promise<ServiceProcess> => {
      const child = await startProcess(contender, { ...backend.env, TTL: String(TTL), ...env });
      children.push(child);
      return child;
    };

    it("5 processes x 40 rounds bump a shared counter file to exactly 200, never two inside", { timeout: 90_000 }, async () => {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-sync-")), "counter");
      fs.writeFileSync(file, "0");
      const id = `count-${randomUUID().slice(0, 8)}`;
      const procs = await Promise.all(Array.from({ length: 5 }, () => start({ MODE: "count", LOCK_ID: id, COUNTER_FILE: file, ROUNDS: "40" })));
      const codes = await Promise.all(procs.map((p) => p.exited));
      for (const p of procs) assert.doesNotMatch(p.output(), /OVERLAP/);
      assert.deepEqual(codes, [0, 0, 0, 0, 0], procs.map((p) => p.output()).join("\n"));
      assert.equal(fs.readFileSync(file, "utf8"), "200");
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    });

    for (const [holdMode, waitMode, what] of [
      ["hold", "wait", "lock holder"],
      ["lead", "campaign", "leader"],
    ] as const) {
      it(`a ${what} killed with SIGKILL is replaced within ttl + 1 s, with a greater token`, { timeout: 30_000 }, async () => {
        const id = `kill-${holdMode}-${randomUUID().slice(0, 8)}`;
        const holder = await start({ MODE: holdMode, LOCK_ID: id });
        const heldToken = BigInt(holder.address);
        const waiter = await start({ MODE: waitMode, LOCK_ID: id });
        await new Promise((r) => setTimeout(r, 500));
        assert.doesNotMatch(waiter.output(), /ACQUIRED/, "no second holder while the first lives");
        const killedAt = Date.now();
        holder.child.kill("SIGKILL");
        const acquired = await new Promise<{ at: number; token: bigint }>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`not acquired within ${TTL + 5_000} ms:\n${waiter.output()}`)), TTL + 5_000);
          const check = (): void => {
            const match = /ACQUIRED (\d+)/.exec(waiter.output());
            if (!match) return;
            clearTimeout(timer);
            resolve({ at: Date.now(), token: BigInt(match[1]) });
          };
          waiter.child.stdout!.on("data", check);
          check();
        });
        const takeover = acquired.at - killedAt;
        console.log(`# ${backend.name} ${what} takeover after SIGKILL: ${takeover} ms (ttl ${TTL} ms)`);
        assert.ok(takeover <= TTL + 1_000, `taken over ${takeover} ms after the kill; the bound is ttl + 1 s`);
        assert.ok(acquired.token > heldToken);
      });
    }
  });
}
