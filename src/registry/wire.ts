/**
 * Go Micro's registry records as JSON (`registry/registry.go`): what the nats and etcd registries
 * put on the wire. Encoding keeps Go's field order; decoding accepts anything a Go program writes
 * (nil slices and maps arrive as `null`, fields may be missing) and rejects what is not a record.
 */
import type { Endpoint, Node, ServiceRecord, Value } from "./registry.js";

/** `json.Marshal(registry.Service)`, field for field. */
export function encodeService(service: ServiceRecord): string {
  return JSON.stringify(toGo(service));
}

/** The service with Go's field order, so encoded records match Go Micro's byte for byte. */
export function toGo(service: ServiceRecord): ServiceRecord {
  return {
    name: service.name,
    version: service.version,
    metadata: service.metadata,
    endpoints: service.endpoints,
    nodes: service.nodes.map((node) => ({ id: node.id, address: node.address, metadata: node.metadata })),
  };
}

/** Parses a JSON Service; undefined when the text is not one. */
export function decodeService(text: string | Uint8Array): ServiceRecord | undefined {
  try {
    return parseService(JSON.parse(typeof text === "string" ? text : Buffer.from(text).toString("utf8")));
  } catch {
    return undefined;
  }
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function parseService(value: unknown): ServiceRecord | undefined {
  if (!isObject(value) || typeof value.name !== "string") return undefined;
  const nodes = value.nodes == null ? [] : value.nodes;
  const endpoints = value.endpoints == null ? null : value.endpoints;
  if (!Array.isArray(nodes) || (endpoints !== null && !Array.isArray(endpoints))) return undefined;
  const parsedNodes = nodes.map(parseNode);
  if (parsedNodes.some((node) => node === undefined)) return undefined;
  return {
    name: value.name,
    version: typeof value.version === "string" ? value.version : "",
    metadata: parseStrings(value.metadata),
    // Go's nil slice stays `null` (an optional chain would turn it into undefined and drop the field).
    endpoints: endpoints === null ? null : endpoints.filter(isObject).map(parseEndpoint),
    nodes: parsedNodes as Node[],
  };
}

function parseNode(value: unknown): Node | undefined {
  if (!isObject(value) || typeof value.id !== "string" || typeof value.address !== "string") return undefined;
  return { id: value.id, address: value.address, metadata: parseStrings(value.metadata) };
}

function parseEndpoint(value: JsonObject): Endpoint {
  return {
    name: String(value.name ?? ""),
    request: parseValue(value.request),
    response: parseValue(value.response),
    metadata: parseStrings(value.metadata),
  };
}

function parseValue(value: unknown): Value | null {
  if (!isObject(value)) return null;
  return {
    name: String(value.name ?? ""),
    type: String(value.type ?? ""),
    values: Array.isArray(value.values) ? value.values.map(parseValue).filter((v): v is Value => v !== null) : null,
  };
}

function parseStrings(value: unknown): Record<string, string> | null {
  if (!isObject(value)) return null;
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) out[key] = String(item);
  return out;
}
