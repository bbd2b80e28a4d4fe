/** The response cache (Go Micro's WithCache): a hit never reaches the server; an answer expires after its TTL. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "../../src/service/create-client.js";
import { type Started, startSlow } from "./harness.js";

describe("response cache", () => {
  let server: Started;
  let client: ReturnType<typeof createClient>;

  before(async () => {
    server = await startSlow();
    process.env.MICRO_REGISTRY = "local";
    process.env.MICRO_REGISTRY_ADDRESS = server.registry;
    client = createClient({ cache: { endpoints: { "slow:Slow.Limited": 60_000 } } });
  });
  after(async () => {
    await client?.close();
    await server?.stop();
  });

  const served = async (): Promise<number> => (await client.call<{ calls: Record<string, number> }>("slow", "Slow.Stats", {})).calls.Fresh ?? 0;

  it("answers a repeated call from the cache until its TTL passes", async () => {
    const ttl = 300;
    const first = await client.call<{ n: number }>("slow", "Slow.Fresh", { key: "a" }, { cache: ttl });
    const again = await client.call<{ n: number }>("slow", "Slow.Fresh", { key: "a" }, { cache: ttl });
    assert.equal(again.n, first.n, "the second call got the cached answer");
    assert.equal(await served(), 1, "the cache hit did not reach the server");
    const other = await client.call<{ n: number }>("slow", "Slow.Fresh", { key: "b" }, { cache: ttl });
    assert.notEqual(other.n, first.n, "another request body is another entry");
    const uncached = await client.call<{ n: number }>("slow", "Slow.Fresh", { key: "a" });
    assert.notEqual(uncached.n, first.n, "a call without cache goes to the server");
    assert.equal(await served(), 3);
    await new Promise((resolve) => setTimeout(resolve, ttl + 100));
    const expired = await client.call<{ n: number }>("slow", "Slow.Fresh", { key: "a" }, { cache: ttl });
    assert.notEqual(expired.n, first.n, "after the TTL the call reaches the server again");
    assert.equal(await served(), 4);
  });

  it("shares one call in flight among identical cached calls, and takes per-endpoint TTLs from the client options", async () => {
    const before = await served();
    const answers = await Promise.all(Array.from({ length: 5 }, () => client.call<{ n: number }>("slow", "Slow.Fresh", { key: "c" }, { cache: 10_000 })));
    assert.equal(new Set(answers.map((a) => a.n)).size, 1, "one answer for all five");
    assert.equal((await served()) - before, 1, "one call reached the server");
    const stats = async (): Promise<number> => (await client.call<{ calls: Record<string, number> }>("slow", "Slow.Stats", {})).calls.Limited ?? 0;
    await client.call("slow", "Slow.Limited", {});
    await client.call("slow", "Slow.Limited", {});
    assert.equal(await stats(), 1, "Slow.Limited is cached by the client's endpoint setting");
  });
});
