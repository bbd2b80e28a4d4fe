import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createService, MicroError } from "ts-micro";
import { MemoryRegistry } from "ts-micro/registry";
import { MemoryStore } from "ts-micro/store/memory";
import { Helloworld } from "../src/handler.js";

describe("helloworld", () => {
  // A registry and store of this process only: the test neither sees nor disturbs the machine's services and data.
  const store = new MemoryStore();
  const service = createService({ name: "helloworld", registry: new MemoryRegistry(), store, address: "127.0.0.1:0" });
  service.handle(new Helloworld(store));
  const api = service.client.service<{ Helloworld: Helloworld }>("helloworld").Helloworld;

  before(() => service.start());
  after(async () => {
    await service.stop();
    await store.close();
  });

  it("saves, reads, lists and deletes a note", async () => {
    const saved = await api.Save({ id: "a", text: "milk" });
    assert.equal(saved.text, "milk");
    assert.deepEqual(await api.Get({ id: "a" }), saved);
    assert.deepEqual(await api.List({}), { ids: ["a"] });
    await api.Delete({ id: "a" });
    await assert.rejects(api.Get({ id: "a" }), (err) => err instanceof MicroError && err.code === 404);
  });

  it("refuses a note without an id with a 400", async () => {
    await assert.rejects(api.Save({ id: "", text: "x" }), (err) => err instanceof MicroError && err.code === 400);
  });
});
