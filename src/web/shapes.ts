/**
 * Registry value descriptions (Go Micro's `Value` tree: name, type, fields) turned into what the
 * dashboard shows: a readable type and a request skeleton for the call form.
 */
import type { Endpoint, Value } from "./api.js";

const NUMBER = /^(u?int(8|16|32|64)?|float(32|64)?|double|number|bigint)$/i;
const STRING = /^(string|bytes|\[\]byte)$/i;
const BOOL = /^(bool|boolean)$/i;

/** A JSON value of the shape `value` describes: "" for strings, 0 for numbers, nested objects. */
export function skeleton(value: Value | null | undefined, depth = 0): unknown {
  if (!value || depth > 8) return {};
  const type = value.type ?? "";
  if (type.startsWith("[]") && !STRING.test(type)) return [];
  if (value.values?.length) return Object.fromEntries(value.values.map((field) => [field.name, skeleton(field, depth + 1)]));
  if (NUMBER.test(type)) return 0;
  if (STRING.test(type)) return "";
  if (BOOL.test(type)) return false;
  if (/^map/i.test(type)) return {};
  return depth === 0 ? {} : null;
}

/** The JSON the call form starts with: the endpoint's example if it has one, else a skeleton. */
export function initialRequest(endpoint: Endpoint): string {
  const example = endpoint.metadata?.example;
  if (example) {
    try {
      return JSON.stringify(JSON.parse(example), null, 2);
    } catch {
      // an example that is not JSON: fall back to the described shape
    }
  }
  return JSON.stringify(skeleton(endpoint.request), null, 2);
}

/** `{ name: string; age: int32 }`, nested, for the endpoint list. */
export function typeText(value: Value | null | undefined, indent = ""): string {
  if (!value) return "not described (see HandleOptions.endpoints)";
  if (!value.values?.length) return value.type || "unknown";
  const inner = `${indent}  `;
  const fields = value.values.map((field) => `${inner}${field.name}: ${typeText(field, inner)}`);
  const shape = `{\n${fields.join("\n")}\n${indent}}`;
  return value.type?.startsWith("[]") ? `${shape}[]` : shape;
}

export const isStream = (endpoint: Endpoint): boolean => endpoint.metadata?.stream === "true";

/** Go Micro lists a service's subscriptions among its endpoints, marked `subscriber: "true"` with their topic. */
export const isSubscription = (endpoint: Endpoint): boolean => endpoint.metadata?.subscriber === "true";

export interface TopicUse {
  topic: string;
  service: string;
  queue: string | undefined;
  handler: string;
}

/** Every subscription that services publish in the registry, by topic then service. */
export function subscriptions(services: readonly { name: string; endpoints: Endpoint[] | null }[]): TopicUse[] {
  const seen = new Map<string, TopicUse>();
  for (const s of services) {
    for (const e of s.endpoints ?? []) {
      if (!isSubscription(e)) continue;
      const use = { topic: e.metadata?.topic ?? "(no topic)", service: s.name, queue: e.metadata?.queue || undefined, handler: e.name };
      seen.set(`${use.topic}\n${use.service}\n${use.handler}`, use);
    }
  }
  return [...seen.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.service.localeCompare(b.service));
}
