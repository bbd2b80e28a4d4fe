/**
 * The floor of recording tracing, for bench/observe*.ts: the least an OpenTelemetry tracer
 * provider that records every span can do (a small span object, ids from a random pool, two
 * clock readings, attributes kept by reference, `end` pushing to an array that is dropped; no
 * sampler, limits, events or export). Not for use: it tells how much of the traced path's cost
 * an SDK could ever save, and how much is the API, the context manager and ts-micro's wrapper.
 */
import { randomBytes } from "node:crypto";
import type * as Otel from "@opentelemetry/api";
import { context, trace } from "@opentelemetry/api";

/** Random hex digits, 16 KiB at a time: an id is a slice of this string. */
let pool = "";
let at = 0;
function hex(digits: number): string {
  if (at + digits > pool.length) {
    pool = randomBytes(8192).toString("hex");
    at = 0;
  }
  at += digits;
  return pool.slice(at - digits, at);
}

/** Ended spans, dropped every 512 (a batch an exporter would take). */
const ended: FloorSpan[] = [];

class FloorSpan implements Otel.Span {
  key1: string | undefined = undefined;
  value1: unknown = undefined;
  more: Record<string, unknown> | undefined = undefined;
  endTime = 0;
  status: Otel.SpanStatus = { code: 0 };
  readonly startTime = performance.now();
  constructor(
    public name: string,
    readonly kind: number,
    private readonly ids: Otel.SpanContext,
    readonly parent: Otel.SpanContext | undefined,
    readonly attributes: Otel.Attributes | undefined,
  ) {}
  spanContext(): Otel.SpanContext {
    return this.ids;
  }
  setAttribute(key: string, value: Otel.AttributeValue): this {
    if (this.key1 === undefined) {
      this.key1 = key;
      this.value1 = value;
    } else {
      this.more ??= {};
      this.more[key] = value;
    }
    return this;
  }
  setAttributes(a: Otel.Attributes): this {
    this.more = { ...this.more, ...a };
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(s: Otel.SpanStatus): this {
    this.status = s;
    return this;
  }
  updateName(n: string): this {
    this.name = n;
    return this;
  }
  end(): void {
    this.endTime = performance.now();
    ended.push(this);
    if (ended.length >= 512) ended.length = 0;
  }
  isRecording(): boolean {
    return this.endTime === 0;
  }
  recordException(): void {}
}

export function floorTracerProvider(): Otel.TracerProvider {
  const tracer: Otel.Tracer = {
    startSpan(name, options = {}, ctx = context.active()) {
      const parent = trace.getSpanContext(ctx);
      const traceId = parent && trace.isSpanContextValid(parent) ? parent.traceId : hex(32);
      const ids = { traceId, spanId: hex(16), traceFlags: 1 };
      return new FloorSpan(name, options.kind ?? 0, ids, parent, options.attributes);
    },
    startActiveSpan(): never {
      throw new Error("the floor tracer has no startActiveSpan (ts-micro does not use it)");
    },
  };
  return { getTracer: () => tracer };
}
