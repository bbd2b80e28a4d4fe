/**
 * Reading an HTTP request into a call: the body (bounded), the query string as a request object,
 * the headers that become call metadata, and the deadline.
 */
import type { IncomingMessage } from "node:http";
import { parseDuration } from "../config/duration.js";
import { BodyTooLargeError, readBody as readLimitedBody } from "../transport/http/body.js";
import { gatewayError } from "./respond.js";

/** The header a caller sets its deadline with: `Micro-Timeout: 500ms` (a plain number is seconds). */
export const TIMEOUT_HEADER = "micro-timeout";

/** Headers copied into call metadata by default, besides Authorization (always copied). */
export const DEFAULT_METADATA_HEADERS: readonly string[] = ["x-request-id", "traceparent", "tracestate", "x-micro-*"];

const EMPTY = Buffer.from("{}");

/**
 * The request body, at most `limit` bytes; 413 beyond, answered once the rest of the body is
 * drained (transport/http/body.ts), so a client still sending reads the answer.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  try {
    return await readLimitedBody(req, limit);
  } catch (err) {
    throw err instanceof BodyTooLargeError ? gatewayError(413, err.message) : err;
  }
}

/**
 * The JSON request in `body`, validated (400 when it is not JSON): the bytes themselves, so that
 * they travel to the service without being parsed into objects and written out again; `{}` for
 * an empty body.
 */
export function jsonBody(body: Buffer): Buffer {
  if (body.length === 0 || isBlank(body)) return EMPTY;
  try {
    JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw gatewayError(400, `malformed JSON request body: ${(err as Error).message}`);
  }
  return body;
}

function isBlank(body: Buffer): boolean {
  for (const byte of body) if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return false;
  return true;
}

/**
 * A GET's query string as a request: `?name=Ada&to=3&tag=a&tag=b` → `{"name":"Ada","to":3,"tag":["a","b"]}`.
 * A value that reads as a JSON number, boolean or null is one; anything else is a string.
 */
export function queryRequest(query: string): Buffer {
  const out: Record<string, unknown> = {};
  for (const [key, text] of new URLSearchParams(query)) {
    const value = scalar(text);
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  }
  return Buffer.from(JSON.stringify(out));
}

function scalar(text: string): unknown {
  if (text === "true") return true;
  if (text === "false") return false;
  if (text === "null") return null;
  if (/^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/.test(text)) return Number(text);
  return text;
}

/** Which request headers become call metadata: exact names, or prefixes written `x-micro-*`. */
export class HeaderAllowList {
  private readonly exact = new Set<string>(["authorization"]);
  private readonly prefixes: string[] = [];

  constructor(names: readonly string[]) {
    for (const name of names) {
      const lower = name.toLowerCase();
      if (lower.endsWith("*")) this.prefixes.push(lower.slice(0, -1));
      else this.exact.add(lower);
    }
  }

  /** The allowed headers of `req` as metadata, names canonicalised as Go's HTTP does (`X-Request-Id`). */
  metadata(req: IncomingMessage): Record<string, string> | undefined {
    let out: Record<string, string> | undefined;
    const raw = req.headers;
    for (const name in raw) {
      if (!this.allows(name)) continue;
      const value = raw[name];
      if (value === undefined) continue;
      out ??= {};
      out[canonical(name)] = Array.isArray(value) ? value[0] : value;
    }
    return out;
  }

  private allows(name: string): boolean {
    if (this.exact.has(name)) return true;
    for (const prefix of this.prefixes) if (name.startsWith(prefix)) return true;
    return false;
  }
}

/** `x-request-id` → `X-Request-Id`. */
function canonical(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
}

/** The caller's deadline in ms from now (`Micro-Timeout`), else `fallback`; 400 when unreadable. */
export function timeoutOf(req: IncomingMessage, fallback: number | undefined): number | undefined {
  const header = req.headers[TIMEOUT_HEADER];
  if (header === undefined) return fallback;
  const text = Array.isArray(header) ? header[0] : header;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw gatewayError(400, `Micro-Timeout ${JSON.stringify(text)} is not a duration (e.g. 500ms, 5s)`);
  return ms;
}
