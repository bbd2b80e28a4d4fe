/**
 * Go Micro's NATS JetStream KV store (store/nats-js-kv with EncodeKeys) and ts-micro's NATS store
 * share records on the shared NATS server: each reads what the other wrote — key, value bytes and
 * metadata — in one bucket and table.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { NatsStore } from "../../src/store/nats.js";
import { freshTable } from "../conformance/store.js";
import { quiet } from "../setup/logger.js";
import { requireSharedNats } from "../setup/servers.js";
import { runGo } from "./go.js";

const SERVER = "127.0.0.1:4222";
const database = freshTable();
const table = "orders";
const goEnv = { INTEROP_NATS: `nats://${SERVER}`, INTEROP_DATABASE: database, INTEROP_TABLE: table };

interface GoRecord {
  key: string;
  value: string;
  metadata: Record<string, unknown> | null;
}

after(async () => {
  const nc = await connect({ servers: SERVER });
  await (await jetstreamManager(nc)).streams.delete(`KV_${database}`).catch(() => {});
  await nc.close();
});

describe("NATS KV store shared by Go Micro and ts-micro", () => {
  const store = new NatsStore({ servers: SERVER, database, table, logger: quiet });
  after(() => store.close());
  const goValue = new Uint8Array([0, 1, 2, 255, 10, 13]);

  it("ts-micro reads what Go Micro wrote", { timeout: 600_000 }, async () => {
    await requireSharedNats();
    const written = await runGo<{ written?: string; error?: string }>("natskv", {
      ...goEnv,
      INTEROP_MODE: "write",
      INTEROP_KEY: "from-go/1",
      INTEROP_VALUE: Buffer.from(goValue).toString("base64"),
      INTEROP_METADATA: JSON.stringify({ lang: "go", n: 7, nested: { ok: true } }),
    });
    assert.deepEqual(written, { written: "from-go/1" });
    const [record] = await store.read("from-go/1");
    assert.deepEqual(record.value, goValue);
    assert.deepEqual(record.metadata, { lang: "go", n: 7, nested: { ok: true } });
    assert.deepEqual(await store.list({ prefix: "from-go/" }), ["from-go/1"]);
  });

  it("Go Micro reads what ts-micro wrote, whatever the key's characters", { timeout: 60_000 }, async () => {
    const binary = new Uint8Array(randomBytes(4096));
    await store.write({ key: "from-ts/1", value: binary, metadata: { lang: "ts", list: [1, "two"] } });
    await store.write({ key: "from-ts/ünï cödé %_*>", value: "text" });
    const { records, error } = await runGo<{ records?: GoRecord[]; error?: string }>("natskv", { ...goEnv, INTEROP_MODE: "read" });
    assert.equal(error, undefined);
    const byKey = new Map((records ?? []).map((r) => [r.key, r]));
    assert.deepEqual([...byKey.keys()].sort(), ["from-go/1", "from-ts/1", "from-ts/ünï cödé %_*>"]);
    assert.ok(Buffer.from(byKey.get("from-ts/1")!.value, "base64").equals(Buffer.from(binary)));
    assert.deepEqual(byKey.get("from-ts/1")!.metadata, { lang: "ts", list: [1, "two"] });
    assert.equal(Buffer.from(byKey.get("from-ts/ünï cödé %_*>")!.value, "base64").toString(), "text");
  });
});
