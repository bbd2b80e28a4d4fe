/**
 * Records shared between Go Micro's NATS JetStream KV store (go-micro.dev/v5/store/nats-js-kv,
 * with `natsjskv.EncodeKeys()`: base32 keys) and ts-micro's NATS store, both ways, on the shared
 * NATS server: the micro database is a KV bucket (one per run, deleted afterwards), the table a
 * `<table>_` key prefix, each value the `{key, data, metadata}` envelope. Keys, value bytes and
 * metadata read the same on the other side. Go Micro's store has no expiry: it neither writes nor
 * reads one, so only ts-micro hides an expired record — and on NATS 2.11+ (a private server) the
 * server removes it, for Go Micro too.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { hasMessageTtl, NatsStore } from "../../src/store/nats.js";
import { StoreNotFoundError } from "../../src/store/store.js";
import { quiet } from "../setup/logger.js";
import { startNatsTtlServer } from "../setup/nats-ttl-server.js";
import { type OwnedServer, requireSharedNats } from "../setup/servers.js";
import { waitFor } from "../setup/wait.js";
import { runGo } from "./go.js";
import { base64, type GoRead, type GoRecord } from "./go-store.js";

describe("NATS JetStream KV store shared by Go Micro and ts-micro", () => {
  const bucket = `interop-${randomUUID().slice(0, 8)}`;
  let url = "";
  let nc: NatsConnection | undefined;
  let store: NatsStore | undefined;

  const goStore = <T>(table: string, mode: string, env: Record<string, string> = {}): Promise<T> =>
    runGo<T>(
      "store",
      { INTEROP_STORE: "nats", INTEROP_ENCODE_KEYS: "1", INTEROP_ADDRESS: url, INTEROP_DATABASE: bucket, INTEROP_TABLE: table, INTEROP_MODE: mode, ...env },
      60_000,
    );

  before(async () => {
    url = await requireSharedNats();
    nc = await connect({ servers: url });
    store = new NatsStore({ servers: url, database: bucket, logger: quiet });
  });
  after(async () => {
    await store?.close();
    if (nc) {
      await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`).catch(() => false);
      await nc.close();
    }
  });

  it("Go Micro writes; ts-micro reads keys, value bytes and metadata", { timeout: 240_000 }, async () => {
    const table = "from-go";
    const binary = new Uint8Array([0, 1, 2, 255, 254, 128, 10, 13]);
    const metadata = { owner: "go", count: 3, ratio: 0.5, ok: true, tags: ["a", "b"], nested: { deep: null } };
    const records: GoRecord[] = [
      { key: "binary", value: base64(binary), metadata },
      { key: "text", value: base64("héllo wörld"), metadata: null },
      { key: "with spaces/and.dots ünï %_*>", value: base64("z"), metadata: { k: "v" } },
    ];
    assert.deepEqual(await goStore(table, "write", { INTEROP_RECORDS: JSON.stringify(records) }), { written: records.length });

    const [read] = await store!.read("binary", { table });
    assert.deepEqual(read.value, binary);
    assert.deepEqual(read.metadata, metadata);
    assert.equal(read.expiry, undefined, "Go Micro writes no expiry");

    const [text] = await store!.read("text", { table });
    assert.equal(Buffer.from(text.value).toString(), "héllo wörld");
    assert.deepEqual(text.metadata, {}, "Go Micro's null metadata reads as {}");

    const [odd] = await store!.read("with spaces/and.dots ünï %_*>", { table });
    assert.deepEqual([Buffer.from(odd.value).toString(), odd.metadata], ["z", { k: "v" }]);
    assert.deepEqual(await store!.list({ table }), ["binary", "text", "with spaces/and.dots ünï %_*>"]);
    assert.deepEqual(await store!.list({ table, prefix: "with " }), ["with spaces/and.dots ünï %_*>"]);
    assert.deepEqual(await store!.list({ table: "other" }), [], "the table is the key prefix");
  });

  it("ts-micro writes; Go Micro reads keys, value bytes and metadata", { timeout: 240_000 }, async () => {
    const table = "from-ts";
    const binary = new Uint8Array(randomBytes(4096));
    const metadata = { owner: "ts", count: 42, ratio: 0.25, ok: false, tags: ["x"], nested: { list: [1, "two", null] } };
    const odd = "ünï cödé %_*> / .";
    await store!.write({ key: "binary", value: binary, metadata }, { table });
    await store!.write({ key: "text", value: "plain text" }, { table, ttl: 3_600_000 });
    await store!.write({ key: odd, value: "odd" }, { table });

    const read = await goStore<GoRead>(table, "read", { INTEROP_KEYS: JSON.stringify(["binary", "text", odd, "absent"]) });
    assert.equal(read.error, undefined);
    assert.deepEqual(read.errors, {});
    assert.deepEqual(read.missing, ["absent"]);
    const byKey = new Map(read.records!.map((r) => [r.key, r]));
    assert.deepEqual([...byKey.keys()], ["binary", "text", odd]);
    assert.deepEqual(new Uint8Array(Buffer.from(byKey.get("binary")!.value, "base64")), binary);
    assert.deepEqual(byKey.get("binary")!.metadata, metadata);
    assert.equal(Buffer.from(byKey.get("text")!.value, "base64").toString(), "plain text");
    assert.deepEqual(byKey.get("text")!.metadata, {});
    assert.equal(byKey.get("text")!.expiry, undefined, "Go Micro reads no expiry");
    assert.equal(Buffer.from(byKey.get(odd)!.value, "base64").toString(), "odd");
    // Go Micro lists in the server's order.
    assert.deepEqual((await goStore<{ keys: string[] }>(table, "list")).keys.sort(), ["binary", "text", odd].sort());
  });

  it("an expired record: ts-micro never returns it; Go Micro, which knows no expiry, may", { timeout: 240_000 }, async () => {
    const table = "expiring";
    await store!.write({ key: "expired", value: "old" }, { table, expiry: new Date(Date.now() - 60_000) });
    if (!hasMessageTtl(nc!.info?.version)) {
      // Before NATS 2.11 nothing removes it on the server: Go Micro returns it.
      const goRead = await goStore<GoRead>(table, "read", { INTEROP_KEYS: JSON.stringify(["expired"]) });
      assert.deepEqual(
        goRead.records?.map((r) => [r.key, Buffer.from(r.value, "base64").toString()]),
        [["expired", "old"]],
      );
    }
    await assert.rejects(store!.read("expired", { table }), StoreNotFoundError);
    assert.deepEqual(await store!.list({ table }), []);
    // ts-micro deleted the expired record it found, so Go Micro no longer sees it either.
    const read = await goStore<GoRead>(table, "read", { INTEROP_KEYS: JSON.stringify(["expired"]) });
    assert.deepEqual([read.records, read.missing], [[], ["expired"]]);
  });
});

describe("NATS 2.11+: an expiring record ts-micro wrote into Go Micro's bucket goes for Go Micro too", () => {
  const bucket = `interop-ttl-${randomUUID().slice(0, 8)}`;
  let server: OwnedServer | undefined;
  let store: NatsStore | undefined;

  before(async () => {
    server = await startNatsTtlServer();
    store = new NatsStore({ servers: server.address, database: bucket, logger: quiet });
  });
  after(async () => {
    await store?.close();
    await server?.dispose();
  });

  const goStore = <T>(mode: string, env: Record<string, string> = {}): Promise<T> =>
    runGo<T>(
      "store",
      {
        INTEROP_STORE: "nats",
        INTEROP_ENCODE_KEYS: "1",
        INTEROP_ADDRESS: `nats://${server!.address}`,
        INTEROP_DATABASE: bucket,
        INTEROP_TABLE: "t",
        INTEROP_MODE: mode,
        ...env,
      },
      60_000,
    );

  it("the server removes it once its ttl passed, with no ts-micro read in between; Go Micro's own records stay", { timeout: 240_000 }, async () => {
    const kept: GoRecord[] = [{ key: "kept", value: base64("go"), metadata: {} }];
    assert.deepEqual(await goStore("write", { INTEROP_RECORDS: JSON.stringify(kept) }), { written: 1 }, "Go Micro creates the bucket");
    await store!.write({ key: "brief", value: "soon gone" }, { table: "t", ttl: 1_000 });
    const nc = await connect({ servers: server!.address });
    try {
      const stream = await (await jetstreamManager(nc)).streams.info(`KV_${bucket}`);
      assert.equal(stream.config.allow_msg_ttl, true, "ts-micro turned on per-message TTL in Go Micro's bucket");
    } finally {
      await nc.close();
    }
    const readBoth = (): Promise<GoRead> => goStore<GoRead>("read", { INTEROP_KEYS: JSON.stringify(["kept", "brief"]) });
    assert.ok(await waitFor(async () => (await readBoth()).missing?.includes("brief") === true, 15_000, 250), "Go Micro stops seeing the expired record");
    const read = await readBoth();
    assert.deepEqual([read.records?.map((r) => r.key), read.missing, read.errors], [["kept"], ["brief"], {}]);
  });
});
