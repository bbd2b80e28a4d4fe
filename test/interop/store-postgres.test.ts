/**
 * Records shared between Go Micro's PostgreSQL store (go-micro.dev/v5/store/postgres: lib/pq, the
 * one whose String() is "cockroach") and ts-micro's, both ways: value bytes, metadata and expiry
 * written by one side read the same on the other, and an expired record is returned by neither.
 *
 * Each run gets a PostgreSQL database of its own on the shared server, dropped afterwards. Its
 * name is also the micro database, that is the schema: Go Micro runs `CREATE DATABASE <micro
 * database>` on first use (an "already exists" error it ignores), and on start it deletes expired
 * rows from every table of every schema in the database it is connected to — neither may touch
 * anything but this run's database.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { PostgresStore } from "../../src/store/postgres.js";
import { StoreNotFoundError } from "../../src/store/store.js";
import { requireServer } from "../setup/servers.js";
import { runGo } from "./go.js";
import { base64, type GoRead, type GoRecord } from "./go-store.js";

const SERVER = "postgresql://postgres@127.0.0.1:5432";
const START = "service postgresql start (or pg_ctlcluster 15 main start); the tests use postgresql://postgres@127.0.0.1:5432 with trust auth";
const HOUR_MS = 3_600_000;
const NS_PER_MS = 1_000_000;

/** The expiry read back is the time left: at most what was written, and not much less. */
function assertAboutAnHourLeft(ms: number | undefined, what: string): void {
  assert.ok(ms !== undefined && ms <= HOUR_MS && ms > HOUR_MS - 5 * 60_000, `${what}: expected about an hour left, got ${ms} ms`);
}

describe("PostgreSQL store shared by Go Micro and ts-micro", () => {
  const database = `interop_${randomUUID().slice(0, 8)}`;
  const address = `${SERVER}/${database}`;
  let store: PostgresStore | undefined;

  async function admin<T>(work: (client: pg.Client) => Promise<T>, db = "test"): Promise<T> {
    const client = new pg.Client({ connectionString: `${SERVER}/${db}` });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  /** Rows of `table` with `key`, whether expired or not. */
  const rowsWithKey = (table: string, key: string): Promise<number> =>
    admin(async (c) => (await c.query(`SELECT count(*)::int AS n FROM "${database}"."${table}" WHERE key = $1`, [key])).rows[0].n as number, database);

  const goStore = <T>(table: string, mode: string, env: Record<string, string> = {}): Promise<T> =>
    runGo<T>(
      "store",
      {
        INTEROP_STORE: "postgres",
        INTEROP_ADDRESS: `${address}?sslmode=disable`,
        INTEROP_DATABASE: database,
        INTEROP_TABLE: table,
        INTEROP_MODE: mode,
        ...env,
      },
      60_000,
    );

  before(async () => {
    await requireServer("PostgreSQL", 5432, START);
    await admin((c) => c.query(`CREATE DATABASE "${database}"`));
    store = new PostgresStore({ address, database });
  });
  after(async () => {
    await store?.close();
    await admin((c) => c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
  });

  it("Go Micro writes; ts-micro reads value, metadata and expiry, and not the expired record", { timeout: 240_000 }, async () => {
    const table = "from-go";
    const binary = new Uint8Array([0, 1, 2, 255, 254, 128, 10, 13]);
    const metadata = { owner: "go", count: 3, ratio: 0.5, ok: true, tags: ["a", "b"], nested: { deep: null } };
    const records: GoRecord[] = [
      { key: "binary", value: base64(binary), metadata, expiry: HOUR_MS * NS_PER_MS },
      { key: "text", value: base64("héllo wörld"), metadata: null },
      { key: "100%_done", value: base64("x"), metadata: { k: "v" } },
      { key: "1000-done", value: base64("y"), metadata: {} },
      // Go Micro stores now + Expiry: a negative one is already past.
      { key: "expired", value: base64("old"), metadata: {}, expiry: -HOUR_MS * NS_PER_MS },
    ];
    assert.deepEqual(await goStore(table, "write", { INTEROP_RECORDS: JSON.stringify(records) }), { written: records.length });
    // Go Micro's store runs its expiry sweep (DELETE ... WHERE expiry < now()) once as it opens, in
    // a goroutine that can run after the write: the expired row may be gone already. Then it is
    // put back as Go Micro wrote it, so that ts-micro still has an expired row to pass over.
    if ((await rowsWithKey("from_go", "expired")) === 0) {
      await admin(
        (c) =>
          c.query(`INSERT INTO "${database}"."from_go" (key, value, metadata, expiry) VALUES ('expired', $1, '{}', now() - interval '1 hour')`, [
            Buffer.from("old"),
          ]),
        database,
      );
    }
    assert.equal(await rowsWithKey("from_go", "expired"), 1, "the expired row is in the table");

    const [read] = await store!.read("binary", { table });
    assert.deepEqual(read.value, binary);
    assert.deepEqual(read.metadata, metadata);
    assertAboutAnHourLeft(read.expiry, "binary");

    const [text] = await store!.read("text", { table });
    assert.equal(Buffer.from(text.value).toString(), "héllo wörld");
    assert.deepEqual(text.metadata, {}, "Go Micro writes nil metadata as {}");
    assert.equal(text.expiry, undefined, "no expiry: NULL");

    await assert.rejects(store!.read("expired", { table }), StoreNotFoundError);
    assert.deepEqual(await store!.list({ table }), ["100%_done", "1000-done", "binary", "text"]);
    assert.deepEqual(await store!.list({ table, prefix: "100%_" }), ["100%_done"], "% and _ are literal in a prefix");
    assert.deepEqual(
      (await store!.read("100", { table, prefix: true })).map((r) => [r.key, Buffer.from(r.value).toString()]),
      [
        ["100%_done", "x"],
        ["1000-done", "y"],
      ],
    );
  });

  it("ts-micro writes; Go Micro reads value, metadata and expiry, and not the expired record", { timeout: 240_000 }, async () => {
    const table = "from-ts";
    const binary = new Uint8Array([255, 0, 7, 128, 13, 10]);
    const metadata = { owner: "ts", count: 42, ratio: 0.25, ok: false, tags: ["x"], nested: { list: [1, "two", null] } };
    await store!.write({ key: "binary", value: binary, metadata }, { table, ttl: HOUR_MS });
    await store!.write({ key: "text", value: "plain text" }, { table });
    await store!.write({ key: "expired", value: "old", metadata: { stale: true } }, { table, expiry: new Date(Date.now() - 60_000) });
    assert.equal(await rowsWithKey("from_ts", "expired"), 1, "the expired row is in the table when Go Micro reads");

    const read = await goStore<GoRead>(table, "read", { INTEROP_KEYS: JSON.stringify(["binary", "text", "expired", "absent"]) });
    assert.equal(read.error, undefined);
    assert.deepEqual(read.errors, {});
    assert.deepEqual(read.missing, ["expired", "absent"]);
    const byKey = new Map(read.records!.map((r) => [r.key, r]));
    assert.deepEqual([...byKey.keys()], ["binary", "text"]);

    const goBinary = byKey.get("binary")!;
    assert.deepEqual(new Uint8Array(Buffer.from(goBinary.value, "base64")), binary);
    assert.deepEqual(goBinary.metadata, metadata);
    assertAboutAnHourLeft((goBinary.expiry ?? 0) / NS_PER_MS, "binary as Go Micro reads it");

    const goText = byKey.get("text")!;
    assert.equal(Buffer.from(goText.value, "base64").toString(), "plain text");
    assert.deepEqual(goText.metadata, {}, "ts-micro writes absent metadata as {}, which Go Micro can scan (it fails on NULL)");
    assert.equal(goText.expiry, undefined, "no expiry");

    assert.deepEqual(await goStore(table, "list"), { keys: ["binary", "text"] });
  });

  it("a record written by one side and replaced by the other reads as replaced on both", { timeout: 240_000 }, async () => {
    const table = "replaced";
    const first: GoRecord[] = [{ key: "k", value: base64("from go"), metadata: { v: 1 }, expiry: HOUR_MS * NS_PER_MS }];
    assert.deepEqual(await goStore(table, "write", { INTEROP_RECORDS: JSON.stringify(first) }), { written: 1 });
    await store!.write({ key: "k", value: "from ts", metadata: { v: 2 } }, { table });
    const read = await goStore<GoRead>(table, "read", { INTEROP_KEYS: JSON.stringify(["k"]) });
    assert.deepEqual(read.records, [{ key: "k", value: base64("from ts"), metadata: { v: 2 } }], "value, metadata replaced; the expiry cleared");
    const [ts] = await store!.read("k", { table });
    assert.deepEqual([Buffer.from(ts.value).toString(), ts.metadata, ts.expiry], ["from ts", { v: 2 }, undefined]);
  });
});
