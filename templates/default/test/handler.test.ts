import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createService, MicroError } from "ts-micro";
import { MemoryRegistry } from "ts-micro/registry";
import { Helloworld } from "../src/handler.js";

describe("helloworld", () => {
  // A registry of this process only: the test neither sees nor disturbs the services running on this machine.
  const service = createService({ name: "helloworld", registry: new MemoryRegistry(), address: "127.0.0.1:0" });
  service.handle(new Helloworld());
  const api = service.client.service<{ Helloworld: Helloworld }>("helloworld").Helloworld;

  before(() => service.start());
  after(() => service.stop());

  it("says hello", async () => {
    assert.deepEqual(await api.Call({ name: "Alice" }), { msg: "Hello Alice" });
  });

  it("refuses an empty name with a 400", async () => {
    await assert.rejects(api.Call({ name: "" }), (err) => err instanceof MicroError && err.code === 400);
  });

  it("streams the counts in order", async () => {
    const counts: number[] = [];
    for await (const { count } of api.Stream({ count: 3 })) counts.push(count);
    assert.deepEqual(counts, [1, 2, 3]);
  });
});
