/**
 * The postgres store with its server actually stopped: a private PostgreSQL cluster (initdb'd
 * here, on a free loopback port) is stopped under a store and started again. While it is down
 * every call fails with a 503; once it is back the same store object works, with the data
 * written before.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MicroError } from "../../src/errors/errors.js";
import { PostgresStore } from "../../src/store/postgres.js";
import { PrivatePostgres } from "../setup/servers.js";

describe("postgres store: server stopped and started again", () => {
  let server: PrivatePostgres | undefined;
  let store: PostgresStore | undefined;
  before(async () => {
    server = await PrivatePostgres.create();
  });
  after(async () => {
    await store?.close();
    await server?.dispose();
  });

  it("fails every call with a 503 while stopped, and the same store works again once it is started", { timeout: 180_000 }, async () => {
    const postgres = server as PrivatePostgres;
    const live = new PostgresStore({ address: postgres.url, database: "outage" });
    store = live;
    await live.write({ key: "before", value: "kept", metadata: { n: 1 } });
    assert.deepEqual(await live.list(), ["before"]);

    await postgres.stop();
    // The server stays down until every call has returned: a call that waited for it to come
    // back would never return, and the test would time out instead of passing.
    const unavailable = (err: unknown): boolean => {
      assert.ok(err instanceof MicroError, `a MicroError, got ${String(err)}`);
      assert.equal(err.code, 503);
      assert.match(err.detail, /^postgres store unavailable: /);
      return true;
    };
    await assert.rejects(live.read("before"), unavailable);
    await assert.rejects(live.write({ key: "during", value: "lost" }), unavailable);
    await assert.rejects(live.list(), unavailable);
    await assert.rejects(live.delete("before"), unavailable);
    await assert.rejects(live.read("before"), unavailable, "still failing, not waiting, on a second try");

    await postgres.start();
    // Bounded: 50 tries; a try that meets a connection from before the restart may fail with a 503.
    let back = false;
    for (let i = 0; i < 50 && !back; i++) {
      try {
        await live.write({ key: "after", value: "v" });
        back = true;
      } catch (err) {
        unavailable(err);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    assert.ok(back, "the store works again without being recreated");
    const [record] = await live.read("before");
    assert.equal(Buffer.from(record.value).toString(), "kept");
    assert.deepEqual(record.metadata, { n: 1 });
    assert.deepEqual(await live.list(), ["after", "before"], "nothing of the failed write during the outage");
  });
});
