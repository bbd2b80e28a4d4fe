import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import pg from "pg";
import { PostgresStore, postgresIdentifier } from "../../src/store/postgres.js";
import { freshTable, storeConformance } from "../conformance/store.js";
import { dropPostgresRunSchemas } from "../setup/run-data.js";
import { requireServer } from "../setup/servers.js";

const ADDRESS = "postgresql://postgres@127.0.0.1:5432/test";
const START = "service postgresql start (or pg_ctlcluster 15 main start); the tests use postgresql://postgres@127.0.0.1:5432/test with trust auth";
const preflight = () => requireServer("PostgreSQL", 5432, START);
/** Every schema this run creates starts with `t<pid>_`. */
const database = freshTable();

// After every suite of this file (the layout tests below create schemas too).
after(() => dropPostgresRunSchemas(ADDRESS));

storeConformance("postgres", { create: () => new PostgresStore({ address: ADDRESS, database }), preflight });

describe("postgres store layout (Go Micro's)", () => {
  const stores: PostgresStore[] = [];
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });

  it("sanitises names as Go Micro does and folds them to lower case", () => {
    assert.equal(postgresIdentifier("my-db"), '"my_db"');
    assert.equal(postgresIdentifier("Orders--2"), '"orders_2"');
  });

  it("keeps records in <schema>.<table> with key text, value bytea, metadata jsonb, expiry timestamptz", { timeout: 20_000 }, async () => {
    await preflight();
    const db = `${freshTable()}-Layout`;
    const store = new PostgresStore({ address: ADDRESS, database: db });
    stores.push(store);
    await store.write({ key: "k", value: "v", metadata: { a: 1 } }, { table: "my-table", ttl: 60_000 });
    const client = new pg.Client({ connectionString: ADDRESS });
    await client.connect();
    try {
      const schema = db.replace(/[^a-zA-Z0-9]+/g, "_").toLowerCase();
      const columns = await client.query(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'my_table' ORDER BY ordinal_position",
        [schema],
      );
      assert.deepEqual(
        columns.rows.map((r) => [r.column_name, r.data_type]),
        [
          ["key", "text"],
          ["value", "bytea"],
          ["metadata", "jsonb"],
          ["expiry", "timestamp with time zone"],
        ],
      );
      const { rows } = await client.query(`SELECT key, value, metadata, expiry FROM "${schema}".my_table`);
      assert.equal(rows.length, 1);
      assert.equal(rows[0].value.toString(), "v");
      assert.deepEqual(rows[0].metadata, { a: 1 });
      assert.ok(rows[0].expiry instanceof Date && rows[0].expiry.getTime() > Date.now());
      // A row written as Go Micro writes it (NULL expiry, {} metadata) reads back.
      await client.query(`INSERT INTO "${schema}".my_table (key, value, metadata, expiry) VALUES ('go', '\\x676f'::bytea, '{}', NULL)`);
      const [go] = await store.read("go", { table: "my-table" });
      assert.equal(Buffer.from(go.value).toString(), "go");
      assert.equal(go.expiry, undefined);
    } finally {
      await client.end();
    }
  });

  it("reaps expired rows only in the table it writes to", { timeout: 20_000 }, async () => {
    await preflight();
    const db = freshTable();
    const client = new pg.Client({ connectionString: ADDRESS });
    await client.connect();
    try {
      // Another table in the schema without an expiry column (Go Micro's reaper broke on such tables).
      await client.query(`CREATE SCHEMA "${db}"`);
      await client.query(`CREATE TABLE "${db}".foreign_table (id int)`);
      await client.query(`CREATE TABLE "${db}".other (key text PRIMARY KEY, value bytea, metadata jsonb, expiry timestamptz)`);
      await client.query(`INSERT INTO "${db}".other VALUES ('old', NULL, '{}', now() - interval '1 hour')`);
      const store = new PostgresStore({ address: ADDRESS, database: db });
      stores.push(store);
      await client.query(`CREATE TABLE "${db}".mine (key text PRIMARY KEY, value bytea, metadata jsonb, expiry timestamptz)`);
      await client.query(`INSERT INTO "${db}".mine VALUES ('old', NULL, '{}', now() - interval '1 hour')`);
      await store.write({ key: "new", value: "v" }, { table: "mine" });
      const mine = await client.query(`SELECT key FROM "${db}".mine ORDER BY key`);
      assert.deepEqual(
        mine.rows.map((r) => r.key),
        ["new"],
      );
      const other = await client.query(`SELECT key FROM "${db}".other`);
      assert.equal(other.rows.length, 1, "the other table is left alone");
    } finally {
      await client.end();
    }
  });

  it("fails a call with a 503 when the server cannot be reached", { timeout: 20_000 }, async () => {
    // Port 1 on loopback: nothing listens there.
    const store = new PostgresStore({ address: "postgresql://postgres@127.0.0.1:1/test" });
    stores.push(store);
    await assert.rejects(store.list(), (err: unknown) => (err as { code?: number }).code === 503);
  });
  it("recovers by itself when the server drops its connections", { timeout: 30_000 }, async () => {
    await preflight();
    const app = `ts_micro_store_${process.pid}`;
    const store = new PostgresStore({ address: `${ADDRESS}?application_name=${app}`, database });
    stores.push(store);
    await store.write({ key: "before", value: "v" }, { table: "drop" });
    const admin = new pg.Client({ connectionString: ADDRESS });
    await admin.connect();
    try {
      const { rows } = await admin.query("SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = $1", [app]);
      assert.ok(rows.length > 0, "the store had a connection to drop");
    } finally {
      await admin.end();
    }
    // A call that meets a dropped connection fails with a 503; the pool then reconnects. Bounded: 50 tries.
    let written = false;
    for (let i = 0; i < 50 && !written; i++) {
      try {
        await store.write({ key: "after", value: "v" }, { table: "drop" });
        written = true;
      } catch (err) {
        assert.equal((err as { code?: number }).code, 503);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    assert.ok(written);
    assert.deepEqual(await store.list({ table: "drop" }), ["after", "before"]);
  });
});
