/**
 * `micro store …` as real processes, on the file store (a temporary directory) and on the shared
 * Redis: a round trip of write, read, list and delete, for people and as JSON, with expiry and the
 * MICRO_STORE* environment.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { freshTable } from "../conformance/store.js";
import { runCli } from "../process/harness.js";
import { requireServer, SERVERS } from "../setup/servers.js";

/** `full`: every test; otherwise only the round trip and expiry (the rest is the same code whatever the store). */
const backends: { name: string; full: boolean; env: () => Record<string, string>; preflight: () => Promise<void> }[] = [
  {
    name: "file",
    full: true,
    env: () => ({ MICRO_STORE: "file", MICRO_STORE_ADDRESS: fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-store-cli-")) }),
    preflight: async () => {},
  },
  {
    name: "redis",
    full: false,
    env: () => ({ MICRO_STORE: "redis", MICRO_STORE_ADDRESS: `127.0.0.1:${SERVERS.redis.port}`, MICRO_STORE_DATABASE: freshTable() }),
    preflight: () => requireServer("Redis", SERVERS.redis.port, SERVERS.redis.start),
  },
];

/** Deletes every Redis key this run wrote (its databases are named `t<pid>_…`). */
after(async () => {
  const redis = new Redis(`127.0.0.1:${SERVERS.redis.port}`, { lazyConnect: true });
  try {
    const keys = await redis.keys(`t${process.pid}_*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
});

for (const backend of backends) {
  describe(`micro store on the ${backend.name} store`, () => {
    let env: Record<string, string>;
    const micro = (...args: string[]) => runCli(["store", ...args], env);
    before(async () => {
      await backend.preflight();
      env = backend.env();
    });

    it("writes, reads, lists and deletes, for people and as JSON", { timeout: 60_000 }, async () => {
      for (const [key, value] of [
        ["user/1", "Alice"],
        ["user/2", "Bo\nb"],
        ["user/3", "Cy"],
        ["group/1", "admins"],
      ]) {
        const wrote = await micro("write", key, value, "--metadata", "role=admin", "--metadata", "team=a=b");
        assert.equal(wrote.code, 0, wrote.stderr);
        assert.equal(wrote.stdout, "");
      }
      const read = await micro("read", "user/1");
      assert.equal(read.code, 0, read.stderr);
      assert.equal(read.stdout, "Alice\n");

      const json = await micro("read", "user/1", "--json");
      assert.deepEqual(JSON.parse(json.stdout), [{ key: "user/1", value: "Alice", metadata: { role: "admin", team: "a=b" } }]);

      const prefixed = await micro("read", "user/", "--prefix", "--offset", "1");
      assert.equal(prefixed.stdout, 'user/2\t"Bo\\nb"\nuser/3\tCy\n');
      const suffixed = await micro("read", "/1", "--suffix", "--json");
      assert.deepEqual(
        JSON.parse(suffixed.stdout).map((r: { key: string }) => r.key),
        ["group/1", "user/1"],
      );

      assert.equal((await micro("list")).stdout, "group/1\nuser/1\nuser/2\nuser/3\n");
      const page = await micro("list", "--prefix", "user/", "--limit", "2", "--offset", "1", "--json");
      assert.deepEqual(JSON.parse(page.stdout), ["user/2", "user/3"]);
      assert.deepEqual(JSON.parse((await micro("list", "--suffix", "/1", "--json")).stdout), ["group/1", "user/1"]);

      const deleted = await micro("delete", "user/1");
      assert.equal(deleted.code, 0, deleted.stderr);
      const gone = await micro("read", "user/1");
      assert.equal(gone.code, 1);
      assert.equal(gone.stdout, "");
      assert.equal(gone.stderr, `micro: not found: "user/1" in ${env.MICRO_STORE_DATABASE ?? "micro"}/micro of the ${backend.name} store\n`);
      const goneJson = await micro("read", "user/1", "--json");
      assert.equal(goneJson.code, 1);
      assert.equal(JSON.parse(goneJson.stderr).code, 404);
      assert.deepEqual(JSON.parse((await micro("list", "--json")).stdout), ["group/1", "user/2", "user/3"]);
    });

    it("expires a record written with --ttl and reports the time left", { timeout: 60_000 }, async () => {
      assert.equal((await micro("write", "lasting", "v", "--ttl", "30s", "--table", "ttl")).code, 0);
      assert.equal((await micro("write", "brief", "v", "--ttl", "200ms", "--table", "ttl")).code, 0);
      const [record] = JSON.parse((await micro("read", "lasting", "--table", "ttl", "--json")).stdout);
      assert.ok(record.expiry > 0 && record.expiry <= 30_000, `expiry ${record.expiry}`);
      // Bounded wait: the 200 ms record is gone once it has passed (at most 5 s of polling).
      let keys: string[] = [];
      for (let i = 0; i < 50; i++) {
        keys = JSON.parse((await micro("list", "--table", "ttl", "--json")).stdout);
        if (keys.length === 1) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(keys, ["lasting"]);
      assert.equal((await micro("read", "brief", "--table", "ttl")).code, 1);
    });

    if (backend.full)
      it("takes the scope from --database/--table or MICRO_STORE_DATABASE/MICRO_STORE_TABLE", { timeout: 60_000 }, async () => {
        const table = "scoped";
        const byEnv = await runCli(["store", "write", "k", "from-env"], { ...env, MICRO_STORE_TABLE: table });
        assert.equal(byEnv.code, 0, byEnv.stderr);
        assert.equal((await micro("read", "k", "--table", table)).stdout, "from-env\n");
        assert.equal((await micro("read", "k")).code, 1, "not in the default table");
        const database = `${env.MICRO_STORE_DATABASE ?? "db"}-other`;
        assert.equal((await micro("write", "k", "elsewhere", "--database", database)).code, 0);
        const other = await runCli(["store", "read", "k"], { ...env, MICRO_STORE_DATABASE: database });
        assert.equal(other.stdout, "elsewhere\n");
      });

    if (backend.full)
      it("writes a value from stdin byte for byte", { timeout: 60_000 }, async () => {
        const wrote = await runCli(["store", "write", "piped", "-"], env, 15_000, "line one\nline two\n");
        assert.equal(wrote.code, 0, wrote.stderr);
        assert.equal((await micro("read", "piped")).stdout, "line one\nline two\n\n");
        const [record] = JSON.parse((await micro("read", "piped", "--json")).stdout);
        assert.equal(record.value, "line one\nline two\n");
      });

    if (backend.full)
      it("rejects bad input with a clear message and writes nothing", { timeout: 60_000 }, async () => {
        const empty = await micro("write", "", "v", "--table", "bad");
        assert.equal(empty.code, 1);
        assert.match(empty.stderr, /key is empty/);
        const table = await micro("write", "k", "v", "--table", "no spaces");
        assert.equal(table.code, 1);
        assert.match(table.stderr, /invalid table name/);
        const ttl = await micro("write", "k", "v", "--ttl", "soon", "--table", "bad");
        assert.equal(ttl.code, 2);
        assert.match(ttl.stderr, /--ttl soon is not a duration/);
        const limit = await micro("list", "--limit", "-1", "--table", "bad");
        assert.equal(limit.code, 2);
        const missing = await micro("write", "only-a-key");
        assert.equal(missing.code, 2);
        assert.match(missing.stderr, /store write needs a key and a value/);
        assert.deepEqual(JSON.parse((await micro("list", "--table", "bad", "--json")).stdout), []);
      });
  });
}
