/**
 * The echo service of micro-echo.ts, with what MICRO_METRICS and MICRO_TRACING turn on. With
 * tracing, an OpenTelemetry SDK is registered as an application would: spans recorded, batched
 * and handed to an exporter, here one that drops them (so the figure is the framework's cost, not
 * an exporter's network I/O), with the async-hooks context manager. BENCH_OTEL_SDK=1 registers
 * the SDK without turning ts-micro's tracing on: what the context manager alone costs;
 * BENCH_NO_CONTEXT_MANAGER=1 registers the SDK without one (spans then travel in metadata only);
 * BENCH_OTEL_RATIO=0.1 samples with ParentBased(TraceIdRatioBased(0.1)) instead of recording every span.
 */
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, type SpanExporter, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";

if (process.env.BENCH_FLOOR_TRACER === "1") {
  const { floorTracerProvider } = await import("../floor-tracer.js");
  trace.setGlobalTracerProvider(floorTracerProvider());
  if (process.env.BENCH_NO_CONTEXT_MANAGER !== "1") context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
} else if (process.env.MICRO_TRACING === "1" || process.env.BENCH_OTEL_SDK === "1") {
  const dropping: SpanExporter = {
    export: (_spans, done) => done({ code: 0 }),
    shutdown: async () => {},
  };
  const ratio = process.env.BENCH_OTEL_RATIO;
  const sampler = ratio ? new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(Number(ratio)) }) : undefined;
  trace.setGlobalTracerProvider(new BasicTracerProvider({ sampler, spanProcessors: [new BatchSpanProcessor(dropping)] }));
  if (process.env.BENCH_NO_CONTEXT_MANAGER !== "1") context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}
await import("./micro-echo.js");
