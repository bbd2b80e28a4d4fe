/**
 * The catalogue's pure parts: JSON Schema from Go Micro's registry Value (Go and JSON type names,
 * nesting, arrays, maps, bytes, optional fields), tool names in both namings, and which endpoints
 * become tools (not subscribers, not nodeless services; versions share tools).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildTools, inputSchema, toolName } from "../../src/mcp/index.js";
import type { ServiceRecord, Value } from "../../src/registry/registry.js";

const v = (name: string, type: string, values: Value[] | null = null): Value => ({ name, type, values });

describe("MCP tool schemas", () => {
  it("Go type names map to JSON Schema types; structs nest; slices are arrays; maps are objects; []byte is base64", () => {
    const schema = inputSchema(
      v("Req", "Req", [
        v("s", "string"),
        v("i", "int32"),
        v("u", "uint64"),
        v("f", "float64"),
        v("b", "bool"),
        v("tags", "[]string"),
        v("blob", "[]byte"),
        v("labels", "map[string]string"),
        v("points", "[]Point", [v("x", "int64"), v("y", "int64")]),
        v("owner", "*User", [v("id", "string")]),
      ]),
    );
    assert.deepEqual(schema, {
      type: "object",
      properties: {
        s: { type: "string" },
        i: { type: "integer" },
        u: { type: "integer" },
        f: { type: "number" },
        b: { type: "boolean" },
        tags: { type: "array", items: { type: "string" } },
        blob: { type: "string", contentEncoding: "base64" },
        labels: { type: "object", additionalProperties: { type: "string" } },
        points: { type: "array", items: { type: "object", properties: { x: { type: "integer" }, y: { type: "integer" } }, required: ["x", "y"] } },
        owner: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
      },
      required: ["s", "i", "u", "f", "b", "tags", "blob", "labels", "points"],
    });
  });

  it("JSON type names, optional marks (`name?`, `type?`), examples; no description takes any object", () => {
    assert.deepEqual(inputSchema(v("R", "object", [v("n", "number"), v("ok?", "boolean"), v("note", "string?")]), '{"n":1}'), {
      type: "object",
      properties: { n: { type: "number" }, ok: { type: "boolean" }, note: { type: "string" } },
      required: ["n"],
      examples: [{ n: 1 }],
    });
    assert.deepEqual(inputSchema(null), { type: "object", properties: {}, additionalProperties: true });
    assert.deepEqual(inputSchema(v("R", "string")), { type: "object", properties: {}, additionalProperties: true });
  });

  it("tool names: Go Micro's dotted names, or underscores for clients that need them; other characters become _", () => {
    assert.equal(toolName("greeter", "Greeter.Hello", "dotted"), "greeter.Greeter.Hello");
    assert.equal(toolName("go.micro.srv.greeter", "Say.Hello", "underscore"), "go_micro_srv_greeter_Say_Hello");
    assert.equal(toolName("my service", "A.B", "dotted"), "my_service.A.B");
    assert.equal(toolName("s".repeat(100), "A.B", "underscore").length, 64);
  });

  it("buildTools: one tool per endpoint of services with nodes; subscribers left out; scopes from metadata or options", () => {
    const node = { id: "n-1", address: "127.0.0.1:1", metadata: {} };
    const records: ServiceRecord[] = [
      {
        name: "greeter",
        version: "1",
        metadata: {},
        nodes: [node],
        endpoints: [
          { name: "Greeter.Hello", request: null, response: null, metadata: { scopes: "a, b", description: "Says hello" } },
          { name: "Greeter.Count", request: null, response: null, metadata: { stream: "true" } },
          { name: "Sub.Handle", request: null, response: null, metadata: { subscriber: "true", topic: "t" } },
        ],
      },
      { name: "greeter", version: "2", metadata: {}, nodes: [node], endpoints: [{ name: "Greeter.Hello", request: null, response: null, metadata: {} }] },
      { name: "gone", version: "1", metadata: {}, nodes: [], endpoints: [{ name: "X.Y", request: null, response: null, metadata: {} }] },
    ];
    const tools = buildTools(records, "dotted", { "greeter.Greeter.Count": { scopes: ["counter"] } });
    assert.deepEqual([...tools.keys()], ["greeter.Greeter.Count", "greeter.Greeter.Hello"]);
    const hello = tools.get("greeter.Greeter.Hello")!;
    assert.deepEqual(hello.scopes, ["a", "b"]);
    assert.equal(hello.description, "Says hello");
    const count = tools.get("greeter.Greeter.Count")!;
    assert.deepEqual(count.scopes, ["counter"]);
    assert.equal(count.stream, true);
    assert.match(count.description, /^Call Greeter.Count on the greeter service/);
  });
});
