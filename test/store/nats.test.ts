import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { base32Decode, base32Encode } from "../../src/driver/base32.js";
import { createStore } from "../../src/service/resolve.js";
import { GO_MICRO_BUCKET_DESCRIPTION, hasMessageTtl, NatsStore } from "../../src/store/nats.js";
import { StoreNotFoundError } from "../../src/store/store.js";
import { freshTable, storeConformance, writeWhenReconnected } from "../conformance/store.js";
import { quiet } from "../setup/logger.js";
import { startNatsTtlServer } from "../setup/nats-ttl-server.js";
import { type OwnedServer, PrivateServer, requireSharedNats } from "../setup/servers.js";

const SERVER = "127.0.0.1:4222";
/** Every bucket this run creates is named `t<pid>_…`. */
const database = freshTable();
const decoder = new TextDecoder();
const encoder = new TextEncoder();
const TEST = { timeout: 30_000 };

const isCode = (code: number) => (err: unknown) => (err as { code?: number }).code === code;

/** Deletes every bucket this run created on the shared server. */
async function deleteRunBuckets(): Promise<void> {
  const nc = await connect({ servers: SERVER });
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const info of jsm.streams.list()) {
      if (info.config.name.startsWith(`KV_t${process.pid}_`)) names.push(info.config.name);
    }
    for (const name of names) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}

after(deleteRunBuckets);

// The shared server's max_payload is 1 MiB; the envelope holds the value in base64 (4/3 larger).
storeConformance("nats", {
  create: () => new NatsStore({ servers: SERVER, database, logger: quiet }),
  preflight: async () => void (await requireSharedNats()),
  largeValueBytes: 700 * 1024,
});

describe("base32 keys", () => {
  it("encodes and decodes as Go's base32.StdEncoding", () => {
    // Vectors from RFC 4648 §10.
    const vectors: [string, string][] = [
      ["", ""],
      ["f", "MY======"],
      ["fo", "MZXQ===="],
      ["foo", "MZXW6==="],
      ["foob", "MZXW6YQ="],
      ["fooba", "MZXW6YTB"],
      ["foobar", "MZXW6YTBOI======"],
    ];
    for (const [plain, encoded] of vectors) {
      assert.equal(base32Encode(encoder.encode(plain)), encoded);
      assert.equal(decoder.decode(base32Decode(encoded)), plain);
    }
    for (const bad of ["MZXW6YQ", "mzxw6yq=", "MZXW6Y1=", "MZX=====", "M=XW6YQ="]) assert.equal(base32Decode(bad), undefined, bad);
  });
});

describe("nats store layout (Go Micro's nats-js-kv)", () => {
  let nc: NatsConnection;
  const stores: NatsStore[] = [];
  const open = (options: ConstructorParameters<typeof NatsStore>[0] = {}) => {
    const store = new NatsStore({ servers: SERVER, logger: quiet, ...options });
    stores.push(store);
    return store;
  };
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await nc?.close();
  });

  it("keeps a record in bucket <database>, key base32(<table>_<key>), value Go Micro's envelope", TEST, async () => {
    await requireSharedNats();
    nc = await connect({ servers: SERVER });
    const db = freshTable();
    const store = open({ database: db });
    await store.write({ key: "user/1", value: "v", metadata: { a: 1 } }, { table: "users" });
    const info = await (await jetstreamManager(nc)).streams.info(`KV_${db}`);
    assert.equal(info.config.description, GO_MICRO_BUCKET_DESCRIPTION);
    assert.equal(info.config.storage, "file");
    const kv = await new Kvm(nc).open(db);
    const entry = await kv.get(base32Encode(encoder.encode("users_user/1")));
    assert.ok(entry);
    assert.deepEqual(entry.json(), { key: "user/1", data: Buffer.from("v").toString("base64"), metadata: { a: 1 } });
  });

  it("reads records Go Micro wrote: a null metadata, a value of no bytes", TEST, async () => {
    const db = freshTable();
    const store = open({ database: db });
    await store.write({ key: "first", value: "x" });
    const kv = await new Kvm(nc).open(db);
    const put = (key: string, envelope: unknown) => kv.put(base32Encode(encoder.encode(`micro_${key}`)), JSON.stringify(envelope));
    await put("go", { key: "go", data: Buffer.from("from go").toString("base64"), metadata: null });
    await put("empty", { key: "empty", data: null, metadata: { n: 2 } });
    await kv.put("not-base32", JSON.stringify({ key: "x", data: null, metadata: null }));
    const [go] = await store.read("go");
    assert.equal(decoder.decode(go.value), "from go");
    assert.deepEqual(go.metadata, {});
    const [empty] = await store.read("empty");
    assert.equal(empty.value.byteLength, 0);
    assert.deepEqual(empty.metadata, { n: 2 });
    assert.deepEqual(await store.list(), ["empty", "first", "go"]);
  });

  it("with encodeKeys: false keeps keys plain, as Go Micro's default, and refuses keys NATS cannot hold", TEST, async () => {
    const db = freshTable();
    const store = open({ database: db, encodeKeys: false });
    await store.write({ key: "orders/7.v1", value: "v" }, { table: "t" });
    const kv = await new Kvm(nc).open(db);
    assert.equal((await kv.get("t_orders/7.v1"))?.json<{ key: string }>().key, "orders/7.v1");
    for (const key of ["a b", "ü", "a..b", "end.", "*", ">"]) {
      await assert.rejects(store.write({ key, value: "v" }, { table: "t" }), isCode(400), key);
    }
    assert.deepEqual(await store.list({ table: "t" }), ["orders/7.v1"]);
  });

  it("keeps the expiry in the envelope, and deletes an expired record when a read meets it", TEST, async () => {
    const db = freshTable();
    const store = open({ database: db });
    const before = Date.now();
    await store.write({ key: "brief", value: "v" }, { ttl: 200 });
    const kv = await new Kvm(nc).open(db);
    const natsKey = base32Encode(encoder.encode("micro_brief"));
    const envelope = (await kv.get(natsKey))?.json<{ expiresAt: string }>();
    const at = Date.parse(envelope?.expiresAt ?? "");
    assert.ok(at >= before + 200 && at <= Date.now() + 200, envelope?.expiresAt);
    for (;;) {
      try {
        await store.read("brief");
        await new Promise((resolve) => setTimeout(resolve, 50));
      } catch (err) {
        assert.ok(err instanceof StoreNotFoundError);
        break;
      }
    }
    for (;;) {
      const entry = await kv.get(natsKey);
      if (entry?.operation === "DEL") break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  it("shows a record only in the table that wrote it, though table and key join with _", TEST, async () => {
    const db = freshTable();
    const store = open({ database: db });
    await store.write({ key: "c", value: "from a_b" }, { table: "a_b" });
    await assert.rejects(store.read("b_c", { table: "a" }), StoreNotFoundError);
    assert.deepEqual(await store.list({ table: "a" }), []);
    assert.deepEqual(await store.list({ table: "a_b" }), ["c"]);
  });

  it("refuses a value whose envelope is over the server's max_payload with a 400, and writes nothing", TEST, async () => {
    const db = freshTable();
    const store = open({ database: db });
    const max = nc.info?.max_payload ?? 0;
    assert.ok(max > 0);
    // base64 makes 3 bytes 4; the envelope adds under 100 bytes to a short key.
    const fits = Math.floor(((max - 100) * 3) / 4);
    await store.write({ key: "fits", value: new Uint8Array(fits) });
    await assert.rejects(store.write({ key: "over", value: new Uint8Array(Math.ceil((max * 3) / 4) + 1) }), isCode(400));
    assert.deepEqual(await store.list(), ["fits"]);
  });

  it("is chosen by MICRO_STORE=nats, at MICRO_STORE_ADDRESS, in MICRO_STORE_DATABASE", TEST, async () => {
    const db = freshTable();
    const saved = { ...process.env };
    Object.assign(process.env, { MICRO_STORE: "nats", MICRO_STORE_ADDRESS: SERVER, MICRO_STORE_DATABASE: db, MICRO_STORE_TABLE: "items" });
    try {
      const store = createStore();
      stores.push(store as NatsStore);
      assert.ok(store instanceof NatsStore);
      await store.write({ key: "k", value: "v" });
    } finally {
      for (const name of ["MICRO_STORE", "MICRO_STORE_ADDRESS", "MICRO_STORE_DATABASE", "MICRO_STORE_TABLE"]) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
    assert.deepEqual(await open({ database: db }).list({ table: "items" }), ["k"]);
  });

  it("fails a call with a 503 when no server can be reached", TEST, async () => {
    const store = open({ servers: "127.0.0.1:1" });
    await assert.rejects(store.list(), isCode(503));
    await assert.rejects(store.write({ key: "k", value: "v" }), isCode(503));
  });

  it("fails fast with a 503 while its server is down, and works again when it is back, without a restart", { timeout: 60_000 }, async () => {
    const server = await PrivateServer.create("nats", { jetstream: true });
    const store = open({ servers: server.address });
    try {
      await store.write({ key: "before", value: "v" });
      await server.stop();
      // Until the client notices the dropped socket a call may be in flight; it fails with a 503 when it does.
      await assert.rejects(store.write({ key: "during", value: "v" }), isCode(503));
      await assert.rejects(store.list(), isCode(503));
      await assert.rejects(store.read("before"), isCode(503));
      await server.start();
      // The same store reconnects by itself; poll, bounded by the test timeout.
      await writeWhenReconnected(store, "after");
      assert.deepEqual(await store.list(), ["after", "before"]);
    } finally {
      await server.destroy();
    }
  });
});

/** One private server with per-message TTL for the tests below, built and started on first use. */
let ttlServer: Promise<OwnedServer> | undefined;
const startTtlServer = (): Promise<OwnedServer> => (ttlServer ??= startNatsTtlServer());
after(async () => (await ttlServer?.catch(() => undefined))?.dispose());

describe("nats store on a server with per-message TTL (NATS 2.11+)", () => {
  const stores: NatsStore[] = [];
  after(() => Promise.all(stores.map((s) => s.close())));

  it("knows which servers have it", () => {
    assert.equal(hasMessageTtl("2.9.10"), false);
    assert.equal(hasMessageTtl("2.10.24"), false);
    assert.equal(hasMessageTtl("2.11.0"), true);
    assert.equal(hasMessageTtl("2.12.15"), true);
    assert.equal(hasMessageTtl("3.0.0"), true);
    assert.equal(hasMessageTtl(undefined), false);
  });

  it("turns allow_msg_ttl on for the bucket, a Go Micro one too, and the server removes an expired record by itself", { timeout: 600_000 }, async () => {
    const server = await startTtlServer();
    const nc = await connect({ servers: server.address });
    try {
      // A bucket as Go Micro creates it: no per-message TTL.
      await new Kvm(nc).create("gomicro", { description: GO_MICRO_BUCKET_DESCRIPTION, history: 1 });
      const jsm = await jetstreamManager(nc);
      assert.notEqual((await jsm.streams.info("KV_gomicro")).config.allow_msg_ttl, true);
      const store = new NatsStore({ servers: server.address, database: "gomicro", logger: quiet });
      stores.push(store);
      await store.write({ key: "brief", value: "v" }, { ttl: 1_000 });
      await store.write({ key: "forever", value: "v" });
      assert.equal((await jsm.streams.info("KV_gomicro")).config.allow_msg_ttl, true);
      const kv = await new Kvm(nc).open("gomicro");
      const natsKey = base32Encode(encoder.encode("micro_brief"));
      assert.equal((await kv.get(natsKey))?.operation, "PUT");
      // Nothing of ours reads it meanwhile, so only the server can remove it: no entry is left, not even a delete marker.
      for (;;) {
        if ((await kv.get(natsKey)) === null) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(await store.list(), ["forever"]);
    } finally {
      await nc.close();
    }
  });
});

// The whole suite again where expiring records carry a per-message TTL (sub-second ttls are still the envelope's).
storeConformance("nats, with per-message TTL (NATS 2.11+)", {
  create: async () => new NatsStore({ servers: (await startTtlServer()).address, database: freshTable(), logger: quiet }),
  largeValueBytes: 700 * 1024,
});
