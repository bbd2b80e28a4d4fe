/**
 * A gateway embedded with a client of the program's own (`client` option), which decodes and
 * encodes objects rather than passing JSON through: calls, server streams and WebSocket streams
 * work the same.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import { createClient } from "../../src/index.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { fixture, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { quiet } from "../setup/logger.js";
import { openStream, post } from "./http.js";

describe("gateway with a client of the program's own", () => {
  const dir = tempRegistry();
  const registry = new LocalRegistry({ path: dir });
  const client = createClient({ registry, logger: quiet });
  let service: ServiceProcess;
  let gateway: Gateway;

  before(async () => {
    service = await startProcess(fixture("gateway-service"), { MICRO_REGISTRY_ADDRESS: dir });
    gateway = await createGateway({ address: "127.0.0.1:0", registry, client, logger: quiet });
  });
  after(async () => {
    await gateway.close();
    await client.close();
    stopAll([service]);
    await registry.close();
  });

  it("calls, streams over SSE and over WebSocket through it", async () => {
    const api = `${gateway.url}/api/gw`;
    assert.deepEqual((await post(`${api}/Greeter/Hello`, { name: "Ada" })).json(), { msg: "Hello Ada" });
    assert.equal((await post(`${api}/Greeter/Hello`, "{bad")).status, 400);
    const stream = await openStream(`${api}/Greeter/Count`, { to: 2 }, { Accept: "text/event-stream" });
    await stream.ended;
    assert.equal(stream.text(), 'data: {"n":1}\n\ndata: {"n":2}\n\nevent: end\ndata: {}\n\n');
    const ws = new WebSocket(`${api.replace("http", "ws")}/Greeter/Sum`);
    const messages: unknown[] = [];
    ws.on("message", (data) => messages.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    for (const n of [5, 6]) ws.send(JSON.stringify({ n }));
    ws.send("");
    await new Promise((resolve) => ws.once("close", resolve));
    assert.deepEqual(messages, [{ total: 11 }]);
  });
});
