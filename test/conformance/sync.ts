/**
 * The conformance suite every Sync implementation runs. Each test uses its own ids, so a shared
 * server works. Waits are bounded by generous deadlines; nothing asserts how fast a step was.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterEach, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { isMicroError } from "../../src/errors/errors.js";
import { type Leadership, type Lock, LockTimeoutError, MAX_ID_LENGTH, type Sync } from "../../src/sync/sync.js";

const TEST = { timeout: 30_000 };

export interface SyncUnderTest {
  /** A new client of the backend (a "process"). */
  create: () => Sync;
  /** Makes `sync` stop renewing what it holds without releasing it, as a frozen or killed process. */
  abandon: (sync: Sync) => void | Promise<void>;
  /** A TTL the backend honours, in ms (etcd rounds up to whole seconds, minimum about 2 s). */
  shortTtl: number;
}

export function syncConformance(name: string, under: SyncUnderTest): void {
  describe(`Sync conformance: ${name}`, () => {
    const open: Sync[] = [];
    const client = (): Sync => {
      const s = under.create();
      open.push(s);
      return s;
    };
    const unique = (what: string): string => `${what}/${randomUUID().slice(0, 8)}`;
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    it("lets one holder in at a time: 5 lockers x 40 rounds, a counter with an await inside", TEST, async () => {
      const id = unique("mutex");
      let inside = 0;
      let maxInside = 0;
      let counter = 0;
      const locker = async (): Promise<void> => {
        const sync = client();
        for (let i = 0; i < 40; i++) {
          const lock = await sync.lock(id, { ttl: 10_000 });
          inside++;
          maxInside = Math.max(maxInside, inside);
          const seen = counter;
          await delay(1);
          counter = seen + 1;
          inside--;
          await lock.unlock();
        }
      };
      await Promise.all(Array.from({ length: 5 }, locker));
      assert.equal(maxInside, 1, "never two holders at once");
      assert.equal(counter, 200, "no increment lost");
    });

    it("fails with LockTimeoutError (408) when wait passes", TEST, async () => {
      const id = unique("wait");
      const held = await client().lock(id, { ttl: 10_000 });
      const err = await client()
        .lock(id, { wait: 200 })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(err instanceof LockTimeoutError, `got ${String(err)}`);
      assert.ok(isMicroError(err, 408));
      await held.unlock();
    });

    it("with wait 0 tries once: takes a free lock, fails at once on a held one", TEST, async () => {
      const id = unique("try");
      const held = await client().lock(id, { wait: 0 });
      await assert.rejects(client().lock(id, { wait: 0 }), (e: unknown) => e instanceof LockTimeoutError);
      await held.unlock();
    });

    it("stops waiting when the caller's signal aborts", TEST, async () => {
      const id = unique("signal");
      await client().lock(id, { ttl: 10_000 });
      const controller = new AbortController();
      const waiting = client().lock(id, { signal: controller.signal });
      setTimeout(() => controller.abort(new Error("caller gave up")), 100);
      await assert.rejects(waiting, /caller gave up/);
    });

    it("lets the next waiter in on unlock, with a greater token", TEST, async () => {
      const id = unique("handover");
      const first = await client().lock(id, { ttl: 10_000 });
      let second: Lock | undefined;
      const waiting = client()
        .lock(id, { ttl: 10_000 })
        .then((l) => (second = l));
      await delay(200);
      assert.equal(second, undefined, "the lock is still held");
      await first.unlock();
      await first.unlock(); // a second unlock is harmless
      await waiting;
      assert.ok(second!.token > first.token, `${second!.token} > ${first.token}`);
      assert.equal(first.lost.aborted, false, "unlock is not a loss");
      await second!.unlock();
    });

    it("gives strictly increasing tokens across acquisitions and clients", TEST, async () => {
      const id = unique("tokens");
      const a = client();
      const b = client();
      let last = -1n;
      for (let i = 0; i < 6; i++) {
        const lock = await (i % 2 ? a : b).lock(id, { ttl: 10_000 });
        assert.equal(typeof lock.token, "bigint");
        assert.ok(lock.token > last, `${lock.token} > ${last}`);
        last = lock.token;
        await lock.unlock();
      }
    });

    it("frees a lock whose holder stopped renewing once its ttl lapses, and fires lost on the old holder", TEST, async () => {
      const id = unique("expiry");
      const frozen = client();
      const held = await frozen.lock(id, { ttl: under.shortTtl });
      await under.abandon(frozen);
      const next = await client().lock(id, { ttl: 10_000, wait: under.shortTtl * 3 + 5_000 });
      assert.ok(next.token > held.token);
      await waitForAbort(held.lost, under.shortTtl + 5_000, "the old holder's lost signal");
      await next.unlock();
    });

    it("refuses empty and over-long ids with a 400", TEST, async () => {
      const sync = client();
      for (const id of ["", "x".repeat(MAX_ID_LENGTH + 1)]) {
        await assert.rejects(sync.lock(id), (e: unknown) => isMicroError(e, 400));
        await assert.rejects(sync.leader(id), (e: unknown) => isMicroError(e, 400));
      }
      await assert.rejects(sync.lock("ok", { ttl: -1 }), (e: unknown) => isMicroError(e, 400));
    });

    it("elects exactly one leader among 4 candidates; resign elects another", TEST, async () => {
      const id = unique("elect");
      const terms: Leadership[] = [];
      const campaigns = Array.from({ length: 4 }, () =>
        client()
          .leader(id, { ttl: 10_000 })
          .then(
            (t) => void terms.push(t),
            () => undefined, // closed by afterEach
          ),
      );
      await until(() => terms.length > 0, 10_000, "a leader");
      await delay(300);
      assert.equal(terms.length, 1, "exactly one leader");
      const first = terms[0];
      await first.resign();
      await until(() => terms.length > 1, 10_000, "a second leader");
      await delay(300);
      assert.equal(terms.length, 2, "exactly one new leader");
      assert.ok(terms[1].token > first.token);
      void campaigns;
    });

    it("elects a new leader when the leader stops renewing, and tells the old one", TEST, async () => {
      const id = unique("failover");
      const frozen = client();
      const old = await frozen.leader(id, { ttl: under.shortTtl });
      let next: Leadership | undefined;
      void client()
        .leader(id, { ttl: 10_000 })
        .then(
          (t) => (next = t),
          () => undefined,
        );
      await delay(200);
      assert.equal(next, undefined, "no second leader while the first renews");
      await under.abandon(frozen);
      await until(() => next !== undefined, under.shortTtl * 3 + 5_000, "a new leader");
      assert.ok(next!.token > old.token);
      await waitForAbort(old.lost, under.shortTtl + 5_000, "the old leader's lost signal");
    });
  });
}

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) assert.fail(`no ${what} within ${ms} ms`);
    await delay(20);
  }
}

function waitForAbort(signal: AbortSignal, ms: number, what: string): Promise<void> {
  return until(() => signal.aborted, ms, `abort of ${what}`);
}
