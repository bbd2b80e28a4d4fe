/**
 * The MCP gateway end to end, as an MCP client sees it: the official SDK's client talking to
 * `micro mcp serve` (its own process) over stdio and over Streamable HTTP, with the services in
 * processes of their own. initialize; tools/list shows the endpoints with JSON Schemas;
 * tools/call returns `Hello Ada`; the service's 400 comes back as a tool error; a service started
 * later appears (tools/list_changed) and a stopped one disappears; unknown tools and oversized
 * arguments are protocol errors, and the gateway keeps serving.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { fixture, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { until, waitFor } from "../setup/wait.js";
import { type Connected, connectHttp, connectStdio, type Gateway, startHttpGateway } from "./harness.js";

const registryDir = tempRegistry();
const env = { MICRO_REGISTRY_ADDRESS: registryDir };

interface ToolView {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
}

async function toolNames(connected: Connected): Promise<string[]> {
  return (await connected.client.listTools()).tools.map((t) => t.name);
}

/** The text of a tool result's first content item, parsed as JSON. */
function resultJson(result: Awaited<ReturnType<Connected["client"]["callTool"]>>): unknown {
  const content = result.content as Array<{ type: string; text: string }>;
  assert.equal(content[0].type, "text");
  return JSON.parse(content[0].text);
}

const transports: Array<{ name: string; connect: () => Promise<{ connected: Connected; cleanup: () => void }> }> = [
  {
    name: "stdio",
    connect: async () => ({ connected: await connectStdio(env), cleanup: () => {} }),
  },
  {
    name: "Streamable HTTP",
    connect: async () => {
      const gateway: Gateway = await startHttpGateway(env);
      return { connected: await connectHttp(gateway.url), cleanup: () => gateway.child.kill("SIGKILL") };
    },
  },
];

describe("MCP gateway", () => {
  const processes: ServiceProcess[] = [];

  before(async () => {
    processes.push(await startProcess(fixture("mcp-service"), env, 30_000));
  });

  after(() => stopAll(processes));

  for (const transport of transports) {
    describe(`over ${transport.name}`, () => {
      let connected: Connected;
      let cleanup: () => void = () => {};

      before(async () => {
        ({ connected, cleanup } = await transport.connect());
      });

      after(async () => {
        await connected?.close().catch(() => {});
        cleanup();
      });

      it("initialize: the server names itself and offers tools with list_changed", () => {
        assert.equal(connected.client.getServerVersion()?.name, "ts-micro");
        assert.deepEqual(connected.client.getServerCapabilities()?.tools, { listChanged: true });
      });

      it("tools/list: one tool per endpoint, Go Micro's names, descriptions and JSON Schemas from the registry", async () => {
        const { tools } = await connected.client.listTools();
        const byName = new Map(tools.map((t) => [t.name, t as ToolView]));
        assert.deepEqual([...byName.keys()].sort(), [
          "greeter.Greeter.Count",
          "greeter.Greeter.Echo",
          "greeter.Greeter.Hello",
          "greeter.Greeter.Sum",
          "greeter.Orders.Place",
        ]);
        const hello = byName.get("greeter.Greeter.Hello")!;
        assert.match(hello.description ?? "", /^Greets a person by name/);
        assert.deepEqual(hello.inputSchema, {
          type: "object",
          properties: { name: { type: "string" } },
          required: ["name"],
          examples: [{ name: "Ada" }],
        });
        assert.deepEqual(byName.get("greeter.Orders.Place")!.inputSchema, {
          type: "object",
          properties: {
            customer: { type: "object", properties: { name: { type: "string" }, email: { type: "string" } }, required: ["name"] },
            items: {
              type: "array",
              items: { type: "object", properties: { sku: { type: "string" }, qty: { type: "integer" } }, required: ["sku", "qty"] },
            },
            note: { type: "string" },
          },
          required: ["customer", "items"],
        });
        assert.deepEqual(byName.get("greeter.Greeter.Count")!.inputSchema.required, ["to"]);
      });

      it("tools/call: the endpoint's answer as JSON text and structuredContent", async () => {
        const result = await connected.client.callTool({ name: "greeter.Greeter.Hello", arguments: { name: "Ada" } });
        assert.notEqual(result.isError, true);
        assert.deepEqual(resultJson(result), { msg: "Hello Ada" });
        assert.deepEqual(result.structuredContent, { msg: "Hello Ada" });
        const order = await connected.client.callTool({
          name: "greeter.Orders.Place",
          arguments: {
            customer: { name: "Ada" },
            items: [
              { sku: "a", qty: 2 },
              { sku: "b", qty: 3 },
            ],
          },
        });
        assert.deepEqual(order.structuredContent, { id: "order-1", count: 5, customer: "Ada" });
      });

      it("a server stream is collected into a list", async () => {
        const result = await connected.client.callTool({ name: "greeter.Greeter.Count", arguments: { to: 3 } });
        assert.deepEqual(result.structuredContent, { items: [{ n: 1 }, { n: 2 }, { n: 3 }], truncated: false });
      });

      it("a bad argument: the service's 400 as a tool error with its code and detail", async () => {
        const result = await connected.client.callTool({ name: "greeter.Greeter.Hello", arguments: { name: "" } });
        assert.equal(result.isError, true);
        const error = { id: "greeter", code: 400, detail: "name is required", status: "Bad Request" };
        assert.deepEqual(resultJson(result), error);
        assert.deepEqual(result.structuredContent, { error });
      });

      it("an unknown tool and oversized arguments are protocol errors; the gateway keeps serving", async () => {
        await assert.rejects(
          connected.client.callTool({ name: "greeter.Greeter.Nope", arguments: {} }),
          (err: unknown) => err instanceof McpError && err.code === -32602 && /unknown tool/.test(err.message),
        );
        await assert.rejects(
          connected.client.callTool({ name: "greeter.Greeter.Hello", arguments: { name: "x".repeat(300 * 1024) } }),
          (err: unknown) => err instanceof McpError && err.code === -32602 && /arguments too large/.test(err.message),
        );
        const result = await connected.client.callTool({ name: "greeter.Greeter.Hello", arguments: { name: "Ada" } });
        assert.deepEqual(result.structuredContent, { msg: "Hello Ada" });
      });

      it("a service started later appears (list_changed) and disappears when it stops", async () => {
        const before = connected.changes();
        const weather = await startProcess(fixture("mcp-service"), { ...env, SERVICE_NAME: `weather-${transport.name.length}` }, 30_000);
        processes.push(weather);
        const tool = `weather-${transport.name.length}.Greeter.Hello`;
        await until(() => connected.changes() > before, 10_000, "no tools/list_changed after a service started");
        let names: string[] = [];
        const listed = await waitFor(async () => {
          names = await toolNames(connected);
          return names.includes(tool);
        }, 10_000);
        assert.ok(listed, `tools/list after start: ${names.join(", ")}`);
        const result = await connected.client.callTool({ name: tool, arguments: { name: "Ada" } });
        assert.deepEqual(result.structuredContent, { msg: "Hello Ada" });

        const changed = connected.changes();
        weather.child.kill("SIGTERM");
        await weather.exited;
        await until(() => connected.changes() > changed, 10_000, "no tools/list_changed after the service stopped");
        let after: string[] = [];
        const gone = await waitFor(async () => {
          after = await toolNames(connected);
          return !after.includes(tool);
        }, 10_000);
        assert.ok(gone, `tools/list after stop still has ${tool}`);
        assert.ok(after.includes("greeter.Greeter.Hello"));
      });
    });
  }
});
