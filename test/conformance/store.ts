/**
 * The conformance suite every Store implementation runs. Each test works in its own table (and
 * the runner gives each run its own database where the backend is shared), so runs never see
 * each other's records. Expiry tests use short TTLs and poll; nothing asserts on timing.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { MicroError } from "../../src/errors/errors.js";
import { jsonTable } from "../../src/store/json-table.js";
import { type Store, StoreNotFoundError } from "../../src/store/store.js";
import { eventually } from "../setup/wait.js";

const TEST = { timeout: 20_000 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface StoreConformanceOptions {
  /** A store whose default database is `database` (a fresh one per run on shared backends). */
  create: () => Promise<Store> | Store;
  /** Removes what the run left behind (a schema, a key space). */
  cleanup?: () => Promise<void>;
  /** Fails, saying how to start it, when the backend's server is down. */
  preflight?: () => Promise<void>;
  /**
   * Size of the large value the suite stores (default 1 MiB). A backend whose server caps a record
   * lower (NATS: max_payload, 1 MiB by default, holds the value base64-encoded) passes the largest
   * it holds and tests its own limit.
   */
  largeValueBytes?: number;
}

let tableCount = 0;
/**
 * A name no other test uses. It starts with `t<pid>_`, so a runner on a shared server can remove
 * everything its run created (the suite also creates a database named this way).
 */
export function freshTable(): string {
  return `t${process.pid}_${++tableCount}_${randomBytes(3).toString("hex")}`;
}

/**
 * Writes `key` once the store has reconnected by itself after its server came back: every try
 * before that must fail with a 503. Polls, bounded by the test's timeout.
 */
export async function writeWhenReconnected(store: Store, key: string): Promise<void> {
  for (;;) {
    try {
      await store.write({ key, value: "v" });
      return;
    } catch (err) {
      assert.equal((err as { code?: number }).code, 503);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function isBadRequest(err: unknown): boolean {
  return err instanceof MicroError && err.code === 400;
}

export function storeConformance(name: string, options: StoreConformanceOptions): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    const stores: Store[] = [];
    const open = async (): Promise<Store> => {
      const s = await options.create();
      stores.push(s);
      return s;
    };
    after(async () => {
      await Promise.all(stores.map((s) => s.close()));
      await options.cleanup?.();
    });

    const write = (table: string, key: string, value = key) => store.write({ key, value }, { table });
    const keysOf = (table: string) => store.list({ table });

    it("opens", TEST, async () => {
      await options.preflight?.();
      store = await open();
      assert.equal(typeof store.name, "string");
    });

    it("reads back what it wrote: bytes, metadata, key", TEST, async () => {
      const table = freshTable();
      const value = new Uint8Array([0, 1, 2, 255, 254, 0, 10, 13]);
      const metadata = { owner: "alice", count: 3, nested: { list: [1, "two", null], flag: true } };
      await store.write({ key: "k", value, metadata }, { table });
      const [record, ...rest] = await store.read("k", { table });
      assert.equal(rest.length, 0);
      assert.equal(record.key, "k");
      assert.deepEqual(record.value, value);
      assert.ok(record.value instanceof Uint8Array);
      assert.deepEqual(record.metadata, metadata);
      assert.equal(record.expiry, undefined);
    });

    it("stores a string value as UTF-8 and an absent metadata as {}", TEST, async () => {
      const table = freshTable();
      await store.write({ key: "s", value: "héllo ✓" }, { table });
      const [record] = await store.read("s", { table });
      assert.equal(decoder.decode(record.value), "héllo ✓");
      assert.deepEqual(record.metadata, {});
    });

    it("overwrites a record", TEST, async () => {
      const table = freshTable();
      await store.write({ key: "k", value: "one", metadata: { v: 1 } }, { table });
      await store.write({ key: "k", value: "two", metadata: { v: 2 } }, { table });
      const records = await store.read("k", { table });
      assert.equal(records.length, 1);
      assert.equal(decoder.decode(records[0].value), "two");
      assert.deepEqual(records[0].metadata, { v: 2 });
    });

    it("rejects an exact read of an absent key with StoreNotFoundError (404)", TEST, async () => {
      const table = freshTable();
      await assert.rejects(store.read("absent", { table }), (err: unknown) => err instanceof StoreNotFoundError && err.code === 404);
      assert.deepEqual(await store.read("absent", { table, prefix: true }), []);
    });

    it("lists and reads in key order (UTF-8 byte order), whatever the write order", TEST, async () => {
      const table = freshTable();
      const keys = ["b", "a", "B", "a/b", "a-b", "ab", "A", "é", "z", "\u{1F600}", "\uFFFD", "10", "9", "a b"];
      for (const key of keys) await write(table, key);
      const expected = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      assert.deepEqual(await keysOf(table), expected);
      const all = await store.read("", { table, prefix: true });
      assert.deepEqual(
        all.map((r) => r.key),
        expected,
      );
      const a = await store.read("a", { table, prefix: true });
      assert.deepEqual(
        a.map((r) => r.key),
        expected.filter((k) => k.startsWith("a")),
      );
    });

    it("reads by prefix, by suffix, and by both", TEST, async () => {
      const table = freshTable();
      for (const key of ["user/1", "user/2", "user/10", "users", "admin/1", "x/user/1"]) await write(table, key);
      const keys = async (key: string, opts: { prefix?: boolean; suffix?: boolean }) => (await store.read(key, { table, ...opts })).map((r) => r.key);
      assert.deepEqual(await keys("user/", { prefix: true }), ["user/1", "user/10", "user/2"]);
      assert.deepEqual(await keys("/1", { suffix: true }), ["admin/1", "user/1", "x/user/1"]);
      assert.deepEqual(await keys("user", { prefix: true, suffix: true }), []);
      await write(table, "user-of-user");
      assert.deepEqual(await keys("user", { prefix: true, suffix: true }), ["user-of-user"]);
      const values = await store.read("admin/", { table, prefix: true });
      assert.equal(decoder.decode(values[0].value), "admin/1");
    });

    it("lists by prefix and suffix, without overlap of the two", TEST, async () => {
      const table = freshTable();
      for (const key of ["aba", "abba", "ab", "ba", "abxba"]) await write(table, key);
      assert.deepEqual(await store.list({ table, prefix: "ab" }), ["ab", "abba", "abxba", "aba"].sort());
      assert.deepEqual(await store.list({ table, suffix: "ba" }), ["aba", "abba", "abxba", "ba"]);
      assert.deepEqual(await store.list({ table, prefix: "ab", suffix: "ba" }), ["abba", "abxba"]);
    });

    it("pages with offset then limit (offset+limit, beyond the end is empty)", TEST, async () => {
      const table = freshTable();
      const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
      for (const key of [...keys].reverse()) await write(table, key);
      assert.deepEqual(await store.list({ table, offset: 2, limit: 3 }), ["k2", "k3", "k4"]);
      assert.deepEqual(await store.list({ table, offset: 4, limit: 2 }), ["k4", "k5"]);
      assert.deepEqual(await store.list({ table, limit: 2 }), ["k0", "k1"]);
      assert.deepEqual(await store.list({ table, offset: 8 }), ["k8", "k9"]);
      assert.deepEqual(await store.list({ table, offset: 20, limit: 5 }), []);
      assert.deepEqual(await store.list({ table, offset: 9, limit: 5 }), ["k9"]);
      const read = await store.read("k", { table, prefix: true, offset: 3, limit: 2 });
      assert.deepEqual(
        read.map((r) => r.key),
        ["k3", "k4"],
      );
      await write(table, "other");
      assert.deepEqual(await store.list({ table, prefix: "k", offset: 9, limit: 1 }), ["k9"]);
    });

    it("treats % _ and \\ in keys and patterns literally", TEST, async () => {
      const table = freshTable();
      for (const key of ["100%", "100x", "a_b", "axb", "back\\slash", "backslash", "%", "_"]) await write(table, key);
      assert.deepEqual(await store.list({ table, prefix: "100%" }), ["100%"]);
      assert.deepEqual(await store.list({ table, prefix: "a_" }), ["a_b"]);
      assert.deepEqual(await store.list({ table, suffix: "_b" }), ["a_b"]);
      assert.deepEqual(await store.list({ table, prefix: "back\\" }), ["back\\slash"]);
      assert.deepEqual(await store.list({ table, prefix: "%" }), ["%"]);
      assert.deepEqual(
        (await store.read("_", { table, prefix: true })).map((r) => r.key),
        ["_"],
      );
      assert.equal((await store.read("100%", { table }))[0].key, "100%");
    });

    it("keeps unicode keys intact", TEST, async () => {
      const table = freshTable();
      const keys = ["日本語/キー", "emoji-\u{1F680}", "ümlaut", "Ωmega"];
      for (const key of keys) await write(table, key);
      for (const key of keys) assert.equal(decoder.decode((await store.read(key, { table }))[0].value), key);
      assert.deepEqual(await store.list({ table, prefix: "日本" }), ["日本語/キー"]);
      assert.deepEqual(await store.list({ table, suffix: "\u{1F680}" }), ["emoji-\u{1F680}"]);
    });

    it("deletes; deleting an absent key is fine", TEST, async () => {
      const table = freshTable();
      await write(table, "a");
      await write(table, "b");
      await store.delete("a", { table });
      await store.delete("never-there", { table });
      assert.deepEqual(await keysOf(table), ["b"]);
      await assert.rejects(store.read("a", { table }), StoreNotFoundError);
    });

    it("keeps databases and tables apart", TEST, async () => {
      const t1 = freshTable();
      const t2 = freshTable();
      const db2 = `${freshTable()}-db`;
      await store.write({ key: "k", value: "t1" }, { table: t1 });
      await store.write({ key: "k", value: "t2" }, { table: t2 });
      await store.write({ key: "k", value: "db2" }, { table: t1, database: db2 });
      assert.equal(decoder.decode((await store.read("k", { table: t1 }))[0].value), "t1");
      assert.equal(decoder.decode((await store.read("k", { table: t2 }))[0].value), "t2");
      assert.equal(decoder.decode((await store.read("k", { table: t1, database: db2 }))[0].value), "db2");
      await store.delete("k", { table: t1, database: db2 });
      assert.deepEqual(await store.list({ table: t1, database: db2 }), []);
      assert.deepEqual(await keysOf(t1), ["k"]);
      await store.delete("k", { table: t1 });
      await store.delete("k", { table: t2 });
    });

    it("expires a record written with a ttl; reports the time left until then", TEST, async () => {
      const table = freshTable();
      await store.write({ key: "short", value: "v" }, { table, ttl: 300 });
      await store.write({ key: "long", value: "v" }, { table, ttl: 60_000 });
      await write(table, "forever");
      const [long] = await store.read("long", { table });
      assert.ok(long.expiry !== undefined && long.expiry > 0 && long.expiry <= 60_000, `expiry ${long.expiry}`);
      await eventually(
        async () => {
          await assert.rejects(store.read("short", { table }), StoreNotFoundError);
        },
        5_000,
        50,
      );
      assert.deepEqual(await keysOf(table), ["forever", "long"]);
      assert.deepEqual(
        (await store.read("", { table, prefix: true })).map((r) => r.key),
        ["forever", "long"],
      );
    });

    it("expires by absolute time, by the record's own expiry, and ttl wins over both", TEST, async () => {
      const table = freshTable();
      await store.write({ key: "at", value: "v" }, { table, expiry: new Date(Date.now() + 300) });
      await store.write({ key: "own", value: "v", expiry: 300 }, { table });
      await store.write({ key: "ttl-wins", value: "v", expiry: 300 }, { table, ttl: 60_000, expiry: new Date(Date.now() + 300) });
      await store.write({ key: "past", value: "v" }, { table, expiry: new Date(Date.now() - 1_000) });
      await assert.rejects(store.read("past", { table }), StoreNotFoundError);
      await eventually(async () => assert.deepEqual(await keysOf(table), ["ttl-wins"]), 5_000, 50);
      await assert.rejects(store.read("at", { table }), StoreNotFoundError);
      await assert.rejects(store.read("own", { table }), StoreNotFoundError);
    });

    it("an expired key can be written again and lives", TEST, async () => {
      const table = freshTable();
      await store.write({ key: "k", value: "old" }, { table, ttl: 200 });
      await eventually(async () => assert.deepEqual(await keysOf(table), []), 5_000, 50);
      await write(table, "k", "new");
      assert.equal(decoder.decode((await store.read("k", { table }))[0].value), "new");
      assert.equal((await store.read("k", { table }))[0].expiry, undefined);
    });

    const largeValueBytes = options.largeValueBytes ?? 1024 * 1024;
    it(`stores a ${Math.round(largeValueBytes / 1024)} KiB binary value`, TEST, async () => {
      const table = freshTable();
      const value = new Uint8Array(randomBytes(largeValueBytes));
      await store.write({ key: "big", value }, { table });
      const [record] = await store.read("big", { table });
      assert.equal(record.value.byteLength, value.byteLength);
      assert.ok(Buffer.from(record.value).equals(Buffer.from(value)));
    });

    it("refuses bad input with a 400 and writes nothing", TEST, async () => {
      const table = freshTable();
      const bad = async (call: () => Promise<unknown>, what: string) => assert.rejects(call(), isBadRequest, what);
      await bad(() => store.write({ key: "", value: "v" }, { table }), "empty key");
      await bad(() => store.write({ key: "nul\0", value: "v" }, { table }), "NUL in key");
      await bad(() => store.write({ key: "k", value: "v" }, { table: "bad table" }), "space in table");
      await bad(() => store.write({ key: "k", value: "v" }, { table: "x".repeat(64) }), "table too long");
      await bad(() => store.write({ key: "k", value: "v" }, { table: "" }), "empty table");
      await bad(() => store.write({ key: "k", value: "v" }, { database: "../etc", table }), "path in database");
      await bad(() => store.write({ key: "k", value: "v" }, { database: 'a"; drop', table }), "quote in database");
      await bad(() => store.write({ key: "k", value: "v" }, { table, ttl: -1 }), "negative ttl");
      await bad(() => store.write({ key: "k", value: "v" }, { table, expiry: new Date(Number.NaN) }), "invalid date");
      await bad(() => store.write({ key: "k", value: 5 as unknown as string }, { table }), "number value");
      await bad(() => store.write({ key: "k", value: "v", metadata: [] as unknown as Record<string, unknown> }, { table }), "array metadata");
      await bad(() => store.write({ key: "k", value: new Uint8Array(16 * 1024 * 1024 + 1) }, { table }), "value over the limit");
      await bad(() => store.read("", { table }), "empty read key");
      await bad(() => store.list({ table, limit: -1 }), "negative limit");
      await bad(() => store.list({ table, offset: 1.5 }), "fractional offset");
      await bad(() => store.delete("", { table }), "empty delete key");
      await bad(() => store.list({ table: "no/slash" }), "slash in table");
      assert.deepEqual(await keysOf(table), []);
      await assert.rejects(store.read("k", { table }), StoreNotFoundError);
      // The store keeps serving after bad input.
      await write(table, "ok");
      assert.deepEqual(await keysOf(table), ["ok"]);
    });

    it("accepts the edges of the name pattern", TEST, async () => {
      const table = `A-z_0-${"x".repeat(57)}`;
      assert.equal(table.length, 63);
      await store.write({ key: "k", value: "v" }, { table });
      assert.deepEqual(await store.list({ table }), ["k"]);
      await store.delete("k", { table });
    });

    it("serves typed JSON values through jsonTable", TEST, async () => {
      interface User {
        name: string;
        age: number;
        tags: string[];
      }
      const users = jsonTable<User>(store, { table: freshTable() });
      await users.put("alice", { name: "Alice", age: 30, tags: ["a"] });
      await users.put("bob", { name: "Bob", age: 40, tags: [] }, { ttl: 60_000 });
      assert.deepEqual(await users.get("alice"), { name: "Alice", age: 30, tags: ["a"] });
      assert.equal(await users.get("carol"), undefined);
      assert.deepEqual(await users.keys(), ["alice", "bob"]);
      assert.deepEqual(await users.keys({ prefix: "b" }), ["bob"]);
      await users.delete("alice");
      assert.deepEqual(await users.keys(), ["bob"]);
      await assert.rejects(store.read("bob"), StoreNotFoundError, "jsonTable writes into its own table only");
    });

    it("keeps values stored as JSON bytes, as Go's store.NewRecord does", TEST, async () => {
      const table = freshTable();
      await jsonTable<{ a: number }>(store, { table }).put("k", { a: 1 });
      const [record] = await store.read("k", { table });
      assert.deepEqual(record.value, encoder.encode('{"a":1}'));
    });

    it("runs many writes and reads at once", TEST, async () => {
      const table = freshTable();
      await Promise.all(Array.from({ length: 200 }, (_, i) => write(table, `c${String(i).padStart(3, "0")}`)));
      const keys = await keysOf(table);
      assert.equal(keys.length, 200);
      assert.deepEqual(keys, [...keys].sort());
      const reads = await Promise.all(keys.map((k) => store.read(k, { table })));
      assert.ok(reads.every((r, i) => r[0].key === keys[i]));
    });
  });
}
