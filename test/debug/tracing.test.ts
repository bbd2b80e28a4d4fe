/**
 * Spans in one process, recorded in memory by the OpenTelemetry SDK: a durable event stream
 * observed by a service (a consumed event's span is the child of its publisher's, which is the
 * child of the span active when it was published; both counted by result), errors on server and
 * client spans, a server stream's span lasting as long as the stream, and client and
 * bidirectional streams traced on both sides (and counted by the caller's metrics).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { MemoryStream } from "../../src/events/memory.js";
import { type Context, createClient, createService, MicroError } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { quiet } from "../setup/logger.js";
import { until } from "../setup/wait.js";

const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

describe("events observed by a service", () => {
  it("links consumer to producer to the active span, marks a failed handler, and counts both by result", async () => {
    const registry = new MemoryRegistry();
    const service = createService({ name: "evented", registry, logger: quiet, tracing: true, metrics: { processMetrics: false } });
    await service.start();
    const stream = service.observeEvents(new MemoryStream({ logger: quiet }));
    const handled: { fail: boolean; spanId: string | undefined }[] = [];
    const consumer = await stream.consume<{ fail: boolean }>(
      "orders",
      (event) => {
        const { fail } = event.json();
        handled.push({ fail, spanId: trace.getActiveSpan()?.spanContext().spanId });
        if (fail) throw new Error("cannot handle this one");
      },
      { group: "g", retryLimit: 0 },
    );
    try {
      const root = trace.getTracer("test").startSpan("root");
      await context.with(trace.setSpan(context.active(), root), () => stream.publish("orders", { fail: false }));
      root.end();
      await stream.publish("orders", { fail: true });
      await until(() => handled.length >= 2, 5_000, "both events handled");

      const spans = exporter.getFinishedSpans();
      const trace1 = root.spanContext().traceId;
      const producer = spans.find((s) => s.kind === SpanKind.PRODUCER && s.spanContext().traceId === trace1);
      assert.ok(producer, JSON.stringify(spans.map((s) => s.name)));
      assert.equal(producer.name, "orders publish");
      assert.equal(producer.parentSpanContext?.spanId, root.spanContext().spanId);
      const consumed = spans.find((s) => s.kind === SpanKind.CONSUMER && s.spanContext().traceId === trace1);
      assert.ok(consumed);
      assert.equal(consumed.name, "orders process");
      assert.equal(consumed.parentSpanContext?.spanId, producer.spanContext().spanId);
      assert.equal(consumed.status.code, SpanStatusCode.UNSET);
      assert.equal(handled.find((h) => !h.fail)?.spanId, consumed.spanContext().spanId, "the consumer span is active in the handler");
      const failed = spans.find((s) => s.kind === SpanKind.CONSUMER && s.spanContext().traceId !== trace1);
      assert.equal(failed?.status.code, SpanStatusCode.ERROR);

      const { body } = await service.metrics!.text();
      assert.match(body, /micro_events_publishes_total\{topic="orders",result="ok",service="evented"\} 2/);
      assert.match(body, /micro_events_deliveries_total\{topic="orders",result="ok",service="evented"\} 1/);
      assert.match(body, /micro_events_deliveries_total\{topic="orders",result="error",service="evented"\} [1-9]/);
    } finally {
      await consumer.stop();
      await stream.close();
      await service.stop();
    }
  });
});

class Traced {
  async Fail(): Promise<never> {
    throw MicroError.forbidden("traced", "not for you");
  }
  async *Count(req: { to: number }, _ctx: Context): AsyncGenerator<{ n: number; spanId: string | undefined }> {
    for (let n = 1; n <= req.to; n++) yield { n, spanId: trace.getActiveSpan()?.spanContext().spanId };
  }
  /** A client stream: the sum of what the caller sent; a negative number is refused. */
  async Sum(numbers: AsyncIterable<{ n: number }>): Promise<{ sum: number }> {
    let sum = 0;
    for await (const { n } of numbers) {
      if (n < 0) throw MicroError.badRequest("traced", "no negative numbers");
      sum += n;
    }
    return { sum };
  }
  /** A bidirectional stream: each number back, doubled. */
  async *Double(numbers: AsyncIterable<{ n: number }>): AsyncGenerator<{ n: number }> {
    for await (const { n } of numbers) yield { n: n * 2 };
  }
}

async function* numbers(...values: number[]): AsyncGenerator<{ n: number }> {
  for (const n of values) yield { n };
}

describe("server and client spans", () => {
  it("mark a failed call with its code and ERROR; a stream's span is active in the generator and ends with it", async () => {
    exporter.reset();
    const registry = new MemoryRegistry();
    const service = createService({ name: "traced", registry, logger: quiet, tracing: true });
    service.handle(new Traced());
    await service.start();
    // The calling side is a service too, so its client is traced.
    const caller = createService({ name: "caller", registry, logger: quiet, tracing: true });
    await caller.start();
    const plain = createClient({ registry, logger: quiet });
    try {
      await assert.rejects(caller.client.call("traced", "Traced.Fail", {}, { retries: 0 }), (err: unknown) => err instanceof MicroError && err.code === 403);
      const spans = exporter.getFinishedSpans();
      const server = spans.find((s) => s.kind === SpanKind.SERVER && s.name === "Traced.Fail");
      const client = spans.find((s) => s.kind === SpanKind.CLIENT && s.name === "Traced.Fail");
      assert.ok(server && client, JSON.stringify(spans.map((s) => s.name)));
      assert.equal(server.parentSpanContext?.spanId, client.spanContext().spanId);
      for (const span of [server, client]) {
        assert.equal(span.status.code, SpanStatusCode.ERROR);
        assert.equal(span.attributes["micro.status_code"], 403);
      }

      const items: { n: number; spanId: string | undefined }[] = [];
      for await (const item of plain.stream<{ n: number; spanId: string | undefined }>("traced", "Traced.Count", { to: 3 })) items.push(item);
      assert.deepEqual(
        items.map((i) => i.n),
        [1, 2, 3],
      );
      const streamSpan = exporter.getFinishedSpans().find((s) => s.name === "Traced.Count");
      assert.ok(streamSpan);
      for (const item of items) assert.equal(item.spanId, streamSpan.spanContext().spanId, "the stream's span is active while it yields");
      assert.equal(streamSpan.status.code, SpanStatusCode.UNSET);
    } finally {
      await plain.close();
      await caller.stop();
      await service.stop();
    }
  });
});

describe("client and bidirectional stream spans", () => {
  it("give the caller a CLIENT span per stream, the parent of the server's span, ending with the stream; failures marked", async () => {
    exporter.reset();
    const registry = new MemoryRegistry();
    const service = createService({ name: "traced", registry, logger: quiet, tracing: true });
    service.handle(new Traced(), { endpoints: { Sum: { stream: true }, Double: { stream: true } } });
    await service.start();
    const caller = createService({ name: "caller", registry, logger: quiet, tracing: true, metrics: { processMetrics: false } });
    await caller.start();
    try {
      const sums = [];
      for await (const reply of caller.client.stream<{ sum: number }>("traced", "Traced.Sum", numbers(1, 2, 3))) sums.push(reply.sum);
      assert.deepEqual(sums, [6]);
      const doubled = [];
      for await (const reply of caller.client.stream<{ n: number }>("traced", "Traced.Double", numbers(1, 2))) doubled.push(reply.n);
      assert.deepEqual(doubled, [2, 4]);
      await assert.rejects(
        (async () => {
          const replies = [];
          for await (const reply of caller.client.stream("traced", "Traced.Sum", numbers(1, -1))) replies.push(reply);
        })(),
        (err: unknown) => err instanceof MicroError && err.code === 400,
      );
      // The server's span ends when its stream does, which may be just after the caller read the end.
      await until(() => exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER).length >= 3, 5_000, "three server spans");

      const spans = exporter.getFinishedSpans();
      const clients = spans.filter((s) => s.kind === SpanKind.CLIENT);
      assert.deepEqual(clients.map((s) => s.name).sort(), ["Traced.Double", "Traced.Sum", "Traced.Sum"]);
      for (const client of clients) {
        assert.equal(client.attributes["micro.stream"], "input");
        const server = spans.find((s) => s.kind === SpanKind.SERVER && s.parentSpanContext?.spanId === client.spanContext().spanId);
        assert.ok(server, `a server span under ${client.name}: ${JSON.stringify(spans.map((s) => [s.name, s.kind]))}`);
        assert.equal(server.name, client.name);
        assert.equal(server.spanContext().traceId, client.spanContext().traceId);
        assert.equal(server.status.code, client.status.code, `${client.name}: both sides agree on the outcome`);
      }
      const failed = clients.filter((s) => s.status.code === SpanStatusCode.ERROR);
      assert.equal(failed.length, 1);
      assert.equal(failed[0].attributes["micro.status_code"], 400);

      const { body } = await caller.metrics!.text();
      assert.match(body, /micro_client_calls_total\{target="traced",endpoint="Traced.Sum",code="200",service="caller"\} 1/);
      assert.match(body, /micro_client_calls_total\{target="traced",endpoint="Traced.Sum",code="400",service="caller"\} 1/);
      assert.match(body, /micro_client_calls_total\{target="traced",endpoint="Traced.Double",code="200",service="caller"\} 1/);
    } finally {
      await caller.stop();
      await service.stop();
    }
  });
});
