/**
 * The gateway embedded in a program: `serveMcp(service)` serves one service's own endpoints, and
 * `gateway.mount` (the shape the HTTP gateway mounts) serves MCP from any node:http server, path
 * prefix and all. Per-tool rate limits and timeouts apply. In one process, on a memory registry.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { Greeter } from "../../examples/greeter/greeter.js";
import { createService, type Service } from "../../src/index.js";
import { createMcpGateway, type McpGateway, serveMcp } from "../../src/mcp/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { quiet } from "../setup/logger.js";
import { connectHttp } from "./harness.js";

class Clock {
  async Slow(req: { ms: number }): Promise<{ slept: number }> {
    await new Promise((resolve) => setTimeout(resolve, req.ms));
    return { slept: req.ms };
  }
}

describe("MCP gateway embedded", () => {
  const registry = new MemoryRegistry();
  let greeter: Service;
  let clock: Service;
  const closers: Array<() => Promise<unknown>> = [];

  before(async () => {
    greeter = createService({ name: "greeter", registry, logger: quiet });
    greeter.handle(new Greeter());
    clock = createService({ name: "clock", registry, logger: quiet });
    clock.handle(new Clock());
    await greeter.start();
    await clock.start();
  });

  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await greeter.stop();
    await clock.stop();
  });

  it("serveMcp(service) lists only that service's endpoints and calls them", async () => {
    const mcp = await serveMcp(greeter, { address: "127.0.0.1:0", logger: quiet });
    closers.push(() => mcp.close());
    const connected = await connectHttp(`http://${mcp.address}/mcp`);
    try {
      const names = (await connected.client.listTools()).tools.map((t) => t.name).sort();
      assert.deepEqual(names, ["greeter.Greeter.Count", "greeter.Greeter.Echo", "greeter.Greeter.Hello", "greeter.Greeter.Sum"]);
      const result = await connected.client.callTool({ name: "greeter.Greeter.Hello", arguments: { name: "Ada" } });
      assert.deepEqual(result.structuredContent, { msg: "Hello Ada" });
    } finally {
      await connected.close();
    }
  });

  it("a stream tool reports each response as a progress notification when asked, and stops at maxStreamItems", async () => {
    const gateway = createMcpGateway({ registry, logger: quiet, maxStreamItems: 3 });
    closers.push(() => gateway.close());
    const address = await gateway.listen("127.0.0.1:0");
    const connected = await connectHttp(`http://${address}/mcp`);
    try {
      const progress: Array<{ progress: number; message?: string }> = [];
      const result = await connected.client.callTool({ name: "greeter.Greeter.Count", arguments: { to: 10 } }, undefined, {
        onprogress: (p) => {
          progress.push({ progress: p.progress, message: p.message });
        },
      });
      assert.deepEqual(result.structuredContent, { items: [{ n: 1 }, { n: 2 }, { n: 3 }], truncated: true });
      assert.deepEqual(progress, [
        { progress: 1, message: '{"n":1}' },
        { progress: 2, message: '{"n":2}' },
        { progress: 3, message: '{"n":3}' },
      ]);
    } finally {
      await connected.close();
    }
  });

  it("gateway.mount on a plain node:http server; underscore names; rate limit 429 and timeout 408 as tool errors", async () => {
    const gateway: McpGateway = createMcpGateway({
      registry,
      naming: "underscore",
      logger: quiet,
      tools: { greeter_Greeter_Hello: { rateLimit: 0.001, burst: 1 }, clock_Clock_Slow: { timeout: 200 } },
    });
    closers.push(() => gateway.close());
    await gateway.start();
    const server = http.createServer((req, res) => {
      if (req.url?.startsWith(gateway.mount.prefix)) return void gateway.mount.handle(req, res);
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    server.unref();
    const { port } = server.address() as { port: number };
    const connected = await connectHttp(`http://127.0.0.1:${port}/mcp`);
    try {
      const names = (await connected.client.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes("greeter_Greeter_Hello") && names.includes("clock_Clock_Slow"), names.join(", "));
      const first = await connected.client.callTool({ name: "greeter_Greeter_Hello", arguments: { name: "Ada" } });
      assert.deepEqual(first.structuredContent, { msg: "Hello Ada" });
      const second = await connected.client.callTool({ name: "greeter_Greeter_Hello", arguments: { name: "Ada" } });
      assert.equal(second.isError, true);
      assert.equal((second.structuredContent as { error: { code: number } }).error.code, 429);
      const slow = await connected.client.callTool({ name: "clock_Clock_Slow", arguments: { ms: 2_000 } });
      assert.equal(slow.isError, true);
      assert.equal((slow.structuredContent as { error: { code: number } }).error.code, 408);
      const quick = await connected.client.callTool({ name: "clock_Clock_Slow", arguments: { ms: 1 } });
      assert.deepEqual(quick.structuredContent, { slept: 1 });
    } finally {
      await connected.close();
    }
  });
});
