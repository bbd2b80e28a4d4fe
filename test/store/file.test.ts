import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { FileStore } from "../../src/store/file.js";
import { storeConformance } from "../conformance/store.js";
import { tempDirs } from "../setup/temp-dirs.js";

const tempDir = tempDirs("ts-micro-store-");

storeConformance("file", { create: () => new FileStore({ dir: tempDir() }) });

const decoder = new TextDecoder();
const FIXTURE = path.join(import.meta.dirname, "fixtures", "file-writer.js");

/** Runs the writer fixture in its own process: `count` records `<name>-<i>`, each followed by an overwrite of `last`. */
function writer(dir: string, name: string, count: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, dir, name, String(count)], { stdio: ["ignore", "inherit", "inherit"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe("file store on disk", () => {
  it("keeps records across close and reopen, with their expiry", { timeout: 20_000 }, async () => {
    const dir = tempDir();
    const first = new FileStore({ dir });
    await first.write({ key: "durable", value: "v", metadata: { n: 1 } }, { table: "t" });
    await first.write({ key: "expiring", value: "v" }, { table: "t", ttl: 60_000 });
    await first.write({ key: "gone", value: "v" }, { table: "t", ttl: 1 });
    await first.close();
    const second = new FileStore({ dir });
    try {
      const [record] = await second.read("durable", { table: "t" });
      assert.equal(decoder.decode(record.value), "v");
      assert.deepEqual(record.metadata, { n: 1 });
      const [expiring] = await second.read("expiring", { table: "t" });
      assert.ok(expiring.expiry !== undefined && expiring.expiry <= 60_000);
      assert.deepEqual(await second.list({ table: "t" }), ["durable", "expiring"]);
    } finally {
      await second.close();
    }
  });

  it("puts one file per database under the directory, created private (0700)", { timeout: 20_000 }, async () => {
    const dir = path.join(tempDir(), "nested", "store");
    const store = new FileStore({ dir });
    try {
      await store.write({ key: "k", value: "v" }, { database: "orders" });
      await store.write({ key: "k", value: "v" });
      assert.ok(fs.existsSync(path.join(dir, "orders.db")));
      assert.ok(fs.existsSync(path.join(dir, "micro.db")));
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    } finally {
      await store.close();
    }
  });

  it("takes its directory from MICRO_STORE_ADDRESS", { timeout: 20_000 }, async () => {
    const dir = tempDir();
    const saved = process.env.MICRO_STORE_ADDRESS;
    process.env.MICRO_STORE_ADDRESS = dir;
    try {
      const store = new FileStore();
      assert.equal(store.dir, dir);
      await store.write({ key: "k", value: "v" });
      await store.close();
      assert.ok(fs.existsSync(path.join(dir, "micro.db")));
    } finally {
      if (saved === undefined) delete process.env.MICRO_STORE_ADDRESS;
      else process.env.MICRO_STORE_ADDRESS = saved;
    }
  });

  it("lets three processes write one store at once; every write lands", { timeout: 90_000 }, async () => {
    const dir = tempDir();
    const count = 300;
    const codes = await Promise.all(["p1", "p2", "p3"].map((name) => writer(dir, name, count)));
    assert.deepEqual(codes, [0, 0, 0]);
    const store = new FileStore({ dir });
    try {
      for (const name of ["p1", "p2", "p3"]) {
        const keys = await store.list({ table: "shared", prefix: `${name}-` });
        assert.equal(keys.length, count, `${name} wrote ${keys.length} of ${count}`);
      }
      // Each process also overwrote one shared key on every write; the last write of one of them is there.
      const [last] = await store.read("last", { table: "shared" });
      assert.match(decoder.decode(last.value), /^p[123]-299$/);
    } finally {
      await store.close();
    }
  });
});
