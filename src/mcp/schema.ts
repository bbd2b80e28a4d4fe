/**
 * JSON Schema from the registry's description of a request (Go Micro's `registry.Value`: a name,
 * a type name and, for structures, the fields). Type names are Go's, as Go Micro publishes them
 * (`string`, `int64`, `float64`, `bool`, `[]Elem`, `map[string]V`, a struct name with fields),
 * or JSON's, as a TypeScript service may write them (`number`, `boolean`, `object`, `array`).
 *
 * Required fields: Go Micro's Value has no such flag, so a field is required unless its type or
 * name says it may be left out: a Go pointer (`*T`), or a trailing `?` (`delayMs?`, `number?`).
 */
import type { Value } from "../registry/registry.js";
import type { JsonSchema } from "./mcp.js";

const INTEGER = /^u?int(8|16|32|64)?$|^integer$/;
const NUMBER = /^float(32|64)$|^double$|^number$/;

/** The input schema of an endpoint: always an object (MCP tools take named arguments). */
export function inputSchema(request: Value | null | undefined, example?: string): JsonSchema & { type: "object" } {
  const schema = request ? valueSchema(request) : {};
  const object: JsonSchema & { type: "object" } =
    schema.type === "object" ? { ...schema, type: "object" } : { type: "object", properties: {}, additionalProperties: true };
  const parsed = example === undefined ? undefined : parseExample(example);
  if (parsed !== undefined) object.examples = [parsed];
  return object;
}

function valueSchema(value: Value): JsonSchema {
  const type = bareType(value.type);
  const fields = value.values ?? [];
  if (type.startsWith("[]")) {
    if (type === "[]byte" || type === "[]uint8") return { type: "string", contentEncoding: "base64" };
    // Go Micro describes a slice of structures by the element's fields.
    return { type: "array", items: valueSchema({ name: value.name, type: type.slice(2), values: value.values }) };
  }
  if (type.startsWith("map[")) {
    const element = type.slice(type.indexOf("]") + 1);
    return { type: "object", additionalProperties: element ? valueSchema({ name: "", type: element, values: value.values }) : true };
  }
  if (fields.length > 0) return objectSchema(fields);
  if (type === "string") return { type: "string" };
  if (type === "bool" || type === "boolean") return { type: "boolean" };
  if (INTEGER.test(type)) return { type: "integer" };
  if (NUMBER.test(type)) return { type: "number" };
  if (type === "array") return { type: "array" };
  // A structure described without fields (deeper than Go Micro's depth limit) or an unknown type.
  return { type: "object" };
}

function objectSchema(fields: Value[]): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const field of fields) {
    const name = field.name.endsWith("?") ? field.name.slice(0, -1) : field.name;
    if (!name) continue;
    properties[name] = valueSchema(field);
    if (!isOptional(field)) required.push(name);
  }
  return required.length > 0 ? { type: "object", properties, required } : { type: "object", properties };
}

function isOptional(field: Value): boolean {
  return field.name.endsWith("?") || field.type.endsWith("?") || field.type.startsWith("*");
}

/** The type name without pointer and optional marks. */
function bareType(type: string): string {
  return type.replace(/^\*+/, "").replace(/\?$/, "").trim();
}

/** An `example` is JSON as `WithEndpointExample` sets it; text that is not JSON stays text. */
function parseExample(example: string): unknown {
  try {
    return JSON.parse(example);
  } catch {
    return example;
  }
}
