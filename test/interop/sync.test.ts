/**
 * Locks shared between Go Micro's etcd lock recipe (micro/plugins v5/sync/etcd, followed by
 * interop/etcd-sync, whose README says why it is not the plugin itself) and ts-micro's, on the same id in an etcd this test starts on a free loopback port:
 * while one side holds the lock the other waits or times out, and it gets the lock once the holder
 * unlocks — both ways; and likewise for leadership of one election. Both write
 * `/micro/sync/<id>/<lease hex>`; the lowest create revision holds.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Etcd3 } from "etcd3";
import { EtcdSync, syncKey } from "../../src/sync/etcd.js";
import { type Lock, LockTimeoutError } from "../../src/sync/sync.js";
import { freePort, type OwnedServer, privateEtcd } from "../setup/servers.js";
import { until, waitFor } from "../setup/wait.js";
import { type GoProcess, startGo } from "./go.js";

interface Reply {
  op: string;
  id: string;
  ok: boolean;
  error?: string;
}

describe("etcd locks shared by Go Micro and ts-micro", () => {
  const run = randomUUID().slice(0, 8);
  let etcd: OwnedServer | undefined;
  let raw: Etcd3 | undefined;
  let sync: EtcdSync | undefined;
  let go: GoProcess | undefined;

  before(async () => {
    etcd = privateEtcd(await freePort());
    await etcd.start();
    raw = new Etcd3({ hosts: `http://${etcd.address}` });
    sync = new EtcdSync({ hosts: etcd.address });
    go = await startGo("lock", { INTEROP_ETCD: `http://${etcd.address}` }, 60_000);
  });
  after(async () => {
    await go?.stop();
    await sync?.close();
    raw?.close();
    await etcd?.dispose();
  });

  const replies = (): Reply[] => go!.lines().filter((l): l is Reply => typeof l === "object" && l !== null && "op" in l);

  /** Sends a command to the Go program; `reply()` waits (bounded) for its answer. */
  function goCommand(line: string): { reply: (timeout?: number) => Promise<Reply>; answered: () => boolean } {
    const index = replies().length;
    go!.send(line);
    return {
      answered: () => replies().length > index,
      reply: async (timeout = 20_000) => {
        await until(
          () => replies().length > index,
          timeout,
          () => `no answer from Go Micro to "${line}"; output:\n${go!.output()}`,
        );
        return replies()[index];
      },
    };
  }

  /** The lock keys under the id, oldest (the holder) first. */
  const keysOf = async (id: string): Promise<string[]> =>
    (
      await raw!
        .getAll()
        .prefix(`${syncKey("", id)}/`)
        .sort("Create", "Ascend")
        .keys()
    ).map((k) => k.toString());

  it("Go Micro holds: ts-micro times out, then acquires once Go Micro unlocks", { timeout: 60_000 }, async () => {
    const id = `go-first-${run}`;
    assert.deepEqual(await goCommand(`lock ${id} 10 0`).reply(), { op: "lock", id, ok: true });
    const [goKey] = await keysOf(id);
    assert.match(goKey, new RegExp(`^/micro/sync/${id}/[0-9a-f]+$`), "Go Micro's key is where ts-micro looks");

    await assert.rejects(sync!.lock(id, { ttl: 10_000, wait: 1_000 }), LockTimeoutError);
    assert.deepEqual(await keysOf(id), [goKey], "ts-micro withdrew its key after the timeout");

    let acquired: Lock | undefined;
    const waiting = sync!.lock(id, { ttl: 10_000, wait: 20_000 }).then((lock) => (acquired = lock));
    assert.ok(await waitFor(async () => (await keysOf(id)).length === 2, 5_000), "ts-micro queues behind Go Micro's key");
    assert.equal(acquired, undefined, "ts-micro does not get the lock while Go Micro holds it");

    assert.deepEqual(await goCommand(`unlock ${id}`).reply(), { op: "unlock", id, ok: true });
    const lock = await waiting;
    const keys = await keysOf(id);
    assert.equal(keys.length, 1, "Go Micro's key went with its unlock");
    assert.notEqual(keys[0], goKey);
    assert.equal(lock.lost.aborted, false);
    await lock.unlock();
    assert.deepEqual(await keysOf(id), []);
  });

  it("ts-micro holds: Go Micro times out, then acquires once ts-micro unlocks", { timeout: 60_000 }, async () => {
    const id = `ts-first-${run}`;
    const lock = await sync!.lock(id, { ttl: 10_000 });
    const [tsKey] = await keysOf(id);

    const refused = await goCommand(`lock ${id} 10 1000`).reply();
    assert.deepEqual(refused, { op: "lock", id, ok: false, error: "lock timeout" }, "Go Micro's LockWait ran out");
    assert.deepEqual(await keysOf(id), [tsKey], "Go Micro withdrew its key after the timeout");

    const waiting = goCommand(`lock ${id} 10 20000`);
    assert.ok(await waitFor(async () => (await keysOf(id)).length === 2, 5_000), "Go Micro queues behind ts-micro's key");
    assert.equal(waiting.answered(), false, "Go Micro does not get the lock while ts-micro holds it");

    await lock.unlock();
    assert.deepEqual(await waiting.reply(), { op: "lock", id, ok: true });
    const [goKey] = await keysOf(id);
    assert.notEqual(goKey, tsKey);

    await assert.rejects(sync!.lock(id, { ttl: 10_000, wait: 500 }), LockTimeoutError, "and now Go Micro's lock keeps ts-micro out");
    assert.deepEqual(await goCommand(`unlock ${id}`).reply(), { op: "unlock", id, ok: true });
    assert.deepEqual(await keysOf(id), []);
  });

  it("one leader at a time across Go Micro and ts-micro; the other is elected when the leader resigns, both ways", { timeout: 60_000 }, async () => {
    const id = `elect-${run}`;
    assert.deepEqual(await goCommand(`elect ${id}`).reply(), { op: "elect", id, ok: true });
    const values = async (): Promise<string[]> =>
      (
        await raw!
          .getAll()
          .prefix(`${syncKey("", id)}/`)
          .sort("Create", "Ascend")
          .exec()
      ).kvs.map((kv) => kv.value.toString());
    assert.deepEqual(await values(), [id], "Go Micro campaigns with its id as the value");

    let elected = false;
    const campaign = sync!.leader(id, { ttl: 10_000 }).then((term) => {
      elected = true;
      return term;
    });
    assert.ok(await waitFor(async () => (await keysOf(id)).length === 2, 5_000), "ts-micro campaigns behind Go Micro's key");
    assert.deepEqual(await values(), [id, id], "ts-micro campaigns with the same value");
    assert.equal(elected, false, "ts-micro is not elected while Go Micro leads");

    assert.deepEqual(await goCommand(`resign ${id}`).reply(), { op: "resign", id, ok: true });
    const term = await campaign;
    assert.equal(term.lost.aborted, false);

    const goCampaign = goCommand(`elect ${id}`);
    assert.ok(await waitFor(async () => (await keysOf(id)).length === 2, 5_000), "Go Micro campaigns behind ts-micro's key");
    assert.equal(goCampaign.answered(), false, "Go Micro is not elected while ts-micro leads");
    await term.resign();
    assert.deepEqual(await goCampaign.reply(), { op: "elect", id, ok: true });
    assert.deepEqual(await goCommand(`resign ${id}`).reply(), { op: "resign", id, ok: true });
    assert.deepEqual(await keysOf(id), []);
  });
});
