/**
 * Trace context in call and message headers. W3C Trace Context (`traceparent`, `tracestate`) is
 * written and read here rather than through OpenTelemetry's global propagator, so that it travels
 * even when the application registered none; Go Micro's `Micro-Trace-Id` / `Micro-Span-Id` are
 * written beside it and read when there is no `traceparent`, so that a trace started by a Go
 * Micro service stays joined. Header names are matched case-insensitively (Go's HTTP transport
 * sends `Traceparent`).
 */
import type { Header } from "../metadata/headers.js";

export const TraceHeader = {
  parent: "traceparent",
  state: "tracestate",
  microTraceId: "Micro-Trace-Id",
  microSpanId: "Micro-Span-Id",
} as const;

/** The ids a header carries: what becomes a remote parent span. */
export interface RemoteContext {
  traceId: string;
  spanId: string;
  /** W3C trace flags (bit 0: sampled). */
  flags: number;
  /** The raw `tracestate`, passed on unchanged. */
  state?: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const INVALID_TRACE = "0".repeat(32);
const INVALID_SPAN = "0".repeat(16);

/** A `traceparent` value, or undefined when it is not one (W3C: such a header is ignored). */
export function parseTraceparent(value: string | undefined): RemoteContext | undefined {
  if (!value || value.length > 512) return undefined;
  const match = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  // Version ff is forbidden; version 00 has nothing after the flags.
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === INVALID_TRACE || spanId === INVALID_SPAN) return undefined;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

export function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  // Flags are 00 or 01 but for rare extensions: no number formatting for those two.
  const hex = flags === 1 ? "01" : flags === 0 ? "00" : (flags & 0xff).toString(16).padStart(2, "0");
  return `00-${traceId}-${spanId}-${hex}`;
}

/**
 * Go Micro's ids are free-form strings (UUIDs in its own tracer): a UUID or 32 hex digits is a
 * trace id; a span id is its first 16 hex digits.
 */
function hexId(value: string | undefined, length: number): string | undefined {
  if (!value) return undefined;
  const hex = value.replace(/-/g, "").toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex) || hex.length < length) return undefined;
  const id = hex.slice(0, length);
  return /^0+$/.test(id) ? undefined : id;
}

/** The parent a request's or message's headers name: `traceparent` first, then Go Micro's headers. */
export function extractRemote(header: Header): RemoteContext | undefined {
  const found = traceHeaders(header);
  if (!found) return undefined; // the common case of a call from outside any trace
  const w3c = parseTraceparent(found.parent);
  if (w3c) {
    if (found.state && found.state.length <= 512) w3c.state = found.state;
    return w3c;
  }
  const traceId = hexId(found.traceId, 32);
  const spanId = hexId(found.spanId, 16);
  // Go Micro does not say whether it sampled: a trace it started is recorded here.
  return traceId && spanId ? { traceId, spanId, flags: 1 } : undefined;
}

type TraceHeaders = { parent?: string; state?: string; traceId?: string; spanId?: string };

/**
 * Which of the four trace headers `key` names, in any case, or undefined. Called for every key of
 * every traced call's headers: it compares by length and character code, without lowering the
 * key (a new string) as `toLowerCase` would.
 */
function traceHeaderOf(key: string): keyof TraceHeaders | undefined {
  switch (key.length) {
    case 11:
      return sameIgnoringCase(key, "traceparent") ? "parent" : undefined;
    case 10:
      return sameIgnoringCase(key, "tracestate") ? "state" : undefined;
    case 14:
      return sameIgnoringCase(key, "micro-trace-id") ? "traceId" : undefined;
    case 13:
      return sameIgnoringCase(key, "micro-span-id") ? "spanId" : undefined;
    default:
      return undefined;
  }
}

/**
 * Whether `key` is `lower` but for the case of its ASCII letters (`lower` is lower case, of the
 * same length). From the end: the names of the same lengths differ there (`Micro-Service`, `micro-span-id`).
 */
function sameIgnoringCase(key: string, lower: string): boolean {
  for (let i = lower.length - 1; i >= 0; i--) {
    const code = key.charCodeAt(i);
    // A–Z to a–z; any other character must be the same.
    if ((code >= 65 && code <= 90 ? code | 0x20 : code) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The four trace headers, by exact name when written as ts-micro writes them, else in one pass
 * over the keys (every call without trace context would otherwise scan the headers four times).
 */
function traceHeaders(header: Header): TraceHeaders | undefined {
  const parent = header[TraceHeader.parent];
  if (parent !== undefined)
    return { parent, state: header[TraceHeader.state], traceId: header[TraceHeader.microTraceId], spanId: header[TraceHeader.microSpanId] };
  let found: TraceHeaders | undefined;
  for (const key in header) {
    const which = traceHeaderOf(key);
    if (which === undefined) continue;
    found ??= {};
    found[which] = header[key];
  }
  return found;
}

/** Writes `context` into `header`, replacing any spelling of the same headers. */
export function injectRemote(header: Header, context: RemoteContext): void {
  for (const key in header) if (traceHeaderOf(key) !== undefined) delete header[key];
  header[TraceHeader.parent] = formatTraceparent(context.traceId, context.spanId, context.flags);
  if (context.state) header[TraceHeader.state] = context.state;
  header[TraceHeader.microTraceId] = context.traceId;
  header[TraceHeader.microSpanId] = context.spanId;
}
