import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createService, MicroError } from "ts-micro";
import { MemoryBroker } from "ts-micro/broker/memory";
import { MemoryRegistry } from "ts-micro/registry";
import { type Greeting, Helloworld, TOPIC } from "../src/handler.js";

describe("helloworld", () => {
  // A registry and broker of this process only: the test neither sees nor disturbs the services running on this machine.
  const service = createService({ name: "helloworld", registry: new MemoryRegistry(), broker: new MemoryBroker(), address: "127.0.0.1:0" });
  const handler = new Helloworld(service.client);
  service.handle(handler);
  service.subscribe<Greeting>(TOPIC, handler.onGreeting);
  const api = service.client.service<{ Helloworld: Helloworld }>("helloworld").Helloworld;

  before(() => service.start());
  after(() => service.stop());

  it("greets and publishes the greeting, which its subscriber receives", async () => {
    assert.deepEqual(await api.Call({ name: "Alice" }), { msg: "Hello Alice" });
    const deadline = Date.now() + 5_000;
    let names: string[] = [];
    while (Date.now() < deadline) {
      names = (await api.Recent({})).greetings.map((g) => g.name);
      if (names.includes("Alice")) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(names, ["Alice"]);
  });

  it("refuses an empty name with a 400", async () => {
    await assert.rejects(api.Call({ name: "" }), (err) => err instanceof MicroError && err.code === 400);
  });
});
