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

/**
 * The four trace headers, by exact name when written as ts-micro writes them, else in one pass
 * over the keys (every call without trace context would otherwise scan the headers four times).
 */
function traceHeaders(header: Header): { parent?: string; state?: string; traceId?: string; spanId?: string } {
  const parent = header[TraceHeader.parent];
  if (parent !== undefined)
    return { parent, state: header[TraceHeader.state], traceId: header[TraceHeader.microTraceId], spanId: header[TraceHeader.microSpanId] };
  const found: { parent?: string; state?: string; traceId?: string; spanId?: string } = {};
  for (const key in header) {
    if (key.length < 10 || key.length > 14) continue; // none of the four names is shorter or longer
    switch (key.toLowerCase()) {
      case "traceparent":
        found.parent = header[key];
        break;
      case "tracestate":
        found.state = header[key];
        break;
      case "micro-trace-id":
        found.traceId = header[key];
        break;
      case "micro-span-id":
        found.spanId = header[key];
        break;
    }
  }
  return found;
}

/** Writes `context` into `header`, replacing any spelling of the same headers. */
export function injectRemote(header: Header, context: RemoteContext): void {
  for (const key in header) {
    // Only names of the four lengths are lowered and compared (this runs once per traced call).
    if (key.length < 10 || key.length > 14) continue;
    const lower = key.toLowerCase();
    if (lower === "traceparent" || lower === "tracestate" || lower === "micro-trace-id" || lower === "micro-span-id") delete header[key];
  }
  header[TraceHeader.parent] = formatTraceparent(context.traceId, context.spanId, context.flags);
  if (context.state) header[TraceHeader.state] = context.state;
  header[TraceHeader.microTraceId] = context.traceId;
  header[TraceHeader.microSpanId] = context.spanId;
}
