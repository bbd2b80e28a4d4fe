/**
 * A Go Micro v5 service as MCP tools: the Go helloworld (interop/helloworld) registered in NATS,
 * `micro mcp list` and `micro mcp call` on the same registry. The schema comes from the request
 * description Go Micro's reflection publishes; the call goes over Go Micro's HTTP transport as
 * JSON (Go Micro's own gateway sends `{"Data":"<base64>"}` on stdio); its 400 is a tool error.
 * Needs Go (the interop build) and the machine's NATS server.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type GoProcess, startGo } from "../interop/go.js";
import { createWorld, type World } from "../interop/world.js";
import { runCli } from "../process/harness.js";

interface ListedTool {
  name: string;
  service: string;
  endpoint: string;
  stream: boolean;
  inputSchema: Record<string, unknown>;
}

describe("MCP gateway: a Go Micro service's endpoints as tools", () => {
  const name = `gohello-mcp-${randomUUID().slice(0, 8)}`;
  let world: World | undefined;
  let goServer: GoProcess | undefined;

  before(async () => {
    world = await createWorld("nats", 0);
    goServer = await startGo("helloworld", { ...world.go.env, INTEROP_NAME: name }, 30_000, world.go.launch);
  });

  after(async () => {
    await goServer?.stop();
    await world?.dispose();
  });

  const micro = (...args: string[]) => runCli(["mcp", ...args, "--service", name], world!.ts.env, 30_000);

  it("lists Helloworld.Call with the schema from Go Micro's reflection, and calls it", async () => {
    const listed = await micro("list", "--json");
    assert.equal(listed.code, 0, listed.stderr);
    const tools = (JSON.parse(listed.stdout) as { tools: ListedTool[] }).tools;
    const byName = new Map(tools.map((t) => [t.name, t]));
    assert.deepEqual([...byName.keys()].sort(), [`${name}.Helloworld.Call`, `${name}.Helloworld.Echo`, `${name}.Helloworld.Stream`]);
    assert.deepEqual(byName.get(`${name}.Helloworld.Call`)!.inputSchema, {
      type: "object",
      properties: { name: { type: "string" } },
      required: ["name"],
    });
    assert.deepEqual(byName.get(`${name}.Helloworld.Echo`)!.inputSchema, {
      type: "object",
      properties: { id: { type: "integer" }, name: { type: "string" }, tags: { type: "array", items: { type: "string" } }, ok: { type: "boolean" } },
      required: ["id", "name", "tags", "ok"],
    });
    assert.equal(byName.get(`${name}.Helloworld.Stream`)!.stream, true);

    const called = await micro("call", `${name}.Helloworld.Call`, '{"name":"Ada"}');
    assert.equal(called.code, 0, called.stderr);
    assert.deepEqual(JSON.parse(called.stdout), { msg: "Hello Ada" });

    const refused = await micro("call", `${name}.Helloworld.Call`, '{"name":""}');
    assert.equal(refused.code, 1);
    assert.deepEqual(JSON.parse(refused.stderr.split("\n")[0]), { id: "helloworld", code: 400, detail: "name is required", status: "Bad Request" });
  });
});
