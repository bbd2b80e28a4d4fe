/**
 * Graceful stop over gRPC: a node that stops deregisters, sends GOAWAY, lets the call in flight
 * finish, and the client's next calls go to the other node without an error.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Client, createClient, createService, type Service } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { quiet } from "../setup/logger.js";
import { Echo, echoEndpoints } from "./echo-handler.js";

describe("stopping a gRPC node", () => {
  const registry = new MemoryRegistry();
  const nodes: Service[] = [];
  let client: Client;

  before(async () => {
    for (let i = 0; i < 2; i++) {
      const node = createService({ name: "life", server: "grpc", registry, address: "127.0.0.1:0", logger: quiet, gracePeriod: 5_000 });
      node.handle(new Echo(), { endpoints: echoEndpoints });
      await node.start();
      nodes.push(node);
    }
    client = createClient({ registry, logger: quiet });
  });
  after(async () => {
    await client?.close();
    for (const node of nodes) await node.stop();
    await registry.close();
  });

  it("finishes the call in flight, then the other node takes every call", async () => {
    const [first, second] = nodes;
    // Open a connection to each node first, so the stop meets an open connection.
    for (const node of nodes) await client.call("life", "Echo.Call", { name: "warm" }, { address: `grpc://${node.address}` });
    const slow = client.call<{ msg: string }>("life", "Echo.Slow", { ms: 500 }, { address: `grpc://${first.address}` });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stopped = first.stop();
    assert.equal((await slow).msg, "done");
    await stopped;
    const [record] = await registry.getService("life");
    assert.deepEqual(
      record.nodes.map((n) => n.address),
      [second.address],
    );
    for (let i = 0; i < 5; i++) assert.equal((await client.call<{ msg: string }>("life", "Echo.Call", { name: `n${i}` })).msg, `hello n${i}`);
  });
});
