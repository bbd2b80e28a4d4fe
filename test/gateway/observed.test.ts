/**
 * The gateway observed: a request carrying a `traceparent` gets a SERVER span joined to it, the
 * parent of the gateway's CLIENT span, the parent of the service's SERVER span (spans recorded
 * in memory by the OpenTelemetry SDK, gateway and service in one process); and `/metrics`,
 * scraped over HTTP and parsed, counts the requests by route, method and status, under a route
 * the gateway knows rather than the path a client made up. Calls made by a mount (the dashboard,
 * MCP at /mcp) and through a client given to the gateway join the request's trace too.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import WebSocket from "ws";
import { MemoryBroker } from "../../src/broker/memory.js";
import { createDashboard } from "../../src/gateway/dashboard.js";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import { createClient, createService, MicroError, type Service, Tracing } from "../../src/index.js";
import { createMcpGateway } from "../../src/mcp/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { connectHttp } from "../mcp/harness.js";
import { quiet } from "../setup/logger.js";
import { parseMetrics } from "../setup/prometheus.js";
import { until, waitFor } from "../setup/wait.js";
import { post, request } from "./http.js";

const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));

class Greeter {
  async Hello(req: { name: string }): Promise<{ msg: string }> {
    if (req.name === "") throw MicroError.badRequest("observed-greeter", "a name, please");
    return { msg: `Hello ${req.name}` };
  }

  /** A bidirectional stream: each message back as it comes. */
  async *Echo(messages: AsyncIterable<{ text: string }>): AsyncIterable<{ text: string }> {
    for await (const message of messages) yield message;
  }
}

function one(spans: ReadableSpan[], match: (s: ReadableSpan) => boolean, what: string): ReadableSpan {
  const found = spans.filter(match);
  assert.equal(found.length, 1, `${what}: expected one span, got ${JSON.stringify(spans.map((s) => [s.name, s.kind]))}`);
  return found[0];
}

describe("gateway observed", () => {
  const registry = new MemoryRegistry();
  let service: Service;
  let gateway: Gateway;
  let plain: Gateway;
  let mounted: Gateway;
  let given: Gateway;
  let givenClient: ReturnType<typeof createClient>;
  const closers: Array<() => Promise<unknown>> = [];

  before(async () => {
    service = createService({ name: "observed-greeter", registry, logger: quiet, tracing: true });
    service.handle(new Greeter());
    await service.start();
    gateway = await createGateway({ address: "127.0.0.1:0", registry, logger: quiet, tracing: true, metrics: { processMetrics: false } });
    plain = await createGateway({ address: "127.0.0.1:0", registry, logger: quiet, tracing: false, metrics: false });
    // Mounts with clients of their own, recording CLIENT spans as `micro gateway` makes them.
    const tracing = new Tracing();
    const traced = { registry, logger: quiet, wrappers: [tracing.callWrapper()], streamWrappers: [tracing.streamWrapper()] };
    const dashboardClient = createClient(traced);
    const mcp = createMcpGateway({ registry, logger: quiet, client: createClient({ ...traced, token: "" }) });
    const broker = new MemoryBroker();
    mounted = await createGateway({
      address: "127.0.0.1:0",
      registry,
      logger: quiet,
      tracing: true,
      metrics: false,
      mounts: [mcp.mount, createDashboard({ registry, client: dashboardClient, broker, logger: quiet })],
    });
    // A client given to the gateway, without wrappers of its own.
    givenClient = createClient({ registry, logger: quiet });
    given = await createGateway({ address: "127.0.0.1:0", registry, logger: quiet, tracing: true, metrics: false, client: givenClient });
    closers.push(
      () => given.close(),
      () => givenClient.close(),
      () => mounted.close(),
      () => mcp.close(),
      () => dashboardClient.close(),
    );
  });
  after(async () => {
    for (const close of closers) await close();
    await plain.close();
    await gateway.close();
    await service.stop();
  });

  it("joins the caller's traceparent: HTTP request → gateway call → service, one trace, each span the parent of the next", async () => {
    exporter.reset();
    const traceId = randomBytes(16).toString("hex");
    const callerSpan = randomBytes(8).toString("hex");
    const reply = await post(`${gateway.url}/api/observed-greeter/Greeter/Hello`, { name: "Ada" }, { traceparent: `00-${traceId}-${callerSpan}-01` });
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json(), { msg: "Hello Ada" });
    // The gateway's span ends when the response has closed, which may be just after the client read it.
    await until(() => exporter.getFinishedSpans().some((s) => s.kind === SpanKind.SERVER && s.name.startsWith("POST")), 5_000, "the gateway's span ended");

    const spans = exporter.getFinishedSpans();
    for (const span of spans) assert.equal(span.spanContext().traceId, traceId, `${span.name} is in the caller's trace`);
    const http = one(spans, (s) => s.kind === SpanKind.SERVER && s.name.startsWith("POST"), "gateway SERVER span");
    assert.equal(http.name, "POST /api/observed-greeter/Greeter.Hello");
    assert.equal(http.parentSpanContext?.spanId, callerSpan);
    assert.equal(http.attributes["http.response.status_code"], 200);
    assert.equal(http.attributes["http.route"], "/api/observed-greeter/Greeter.Hello");
    const call = one(spans, (s) => s.kind === SpanKind.CLIENT && s.name === "Greeter.Hello", "gateway CLIENT span");
    assert.equal(call.parentSpanContext?.spanId, http.spanContext().spanId);
    const served = one(spans, (s) => s.kind === SpanKind.SERVER && s.name === "Greeter.Hello", "service SERVER span");
    assert.equal(served.parentSpanContext?.spanId, call.spanContext().spanId);
  });

  it("starts a trace for a request without one, and marks a 4xx on the HTTP span without calling it an error", async () => {
    exporter.reset();
    const reply = await post(`${gateway.url}/api/observed-greeter/Greeter.Hello`, { name: "" });
    assert.equal(reply.status, 400, reply.text);
    await until(() => exporter.getFinishedSpans().some((s) => s.name.startsWith("POST")), 5_000, "the gateway's span ended");
    const spans = exporter.getFinishedSpans();
    const http = one(spans, (s) => s.name.startsWith("POST"), "gateway SERVER span");
    assert.equal(http.parentSpanContext, undefined, "a root span");
    assert.equal(http.attributes["http.response.status_code"], 400);
    assert.equal(http.status.code, SpanStatusCode.UNSET);
    const served = one(spans, (s) => s.kind === SpanKind.SERVER && s.name === "Greeter.Hello", "service SERVER span");
    assert.equal(served.spanContext().traceId, http.spanContext().traceId);
    assert.equal(served.status.code, SpanStatusCode.ERROR, "the service's own span failed");
  });

  it("a dashboard call joins the request's trace: HTTP request → dashboard client call → service", async () => {
    exporter.reset();
    const traceId = randomBytes(16).toString("hex");
    const callerSpan = randomBytes(8).toString("hex");
    const reply = await post(
      `${mounted.url}/dashboard/api/call`,
      { service: "observed-greeter", endpoint: "Greeter.Hello", request: { name: "Ada" } },
      { traceparent: `00-${traceId}-${callerSpan}-01` },
    );
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json(), { response: { msg: "Hello Ada" } });
    await until(() => exporter.getFinishedSpans().some((s) => s.kind === SpanKind.SERVER && s.name.startsWith("POST")), 5_000, "the gateway's span ended");
    const spans = exporter.getFinishedSpans();
    for (const span of spans) assert.equal(span.spanContext().traceId, traceId, `${span.name} is in the caller's trace`);
    const http = one(spans, (s) => s.kind === SpanKind.SERVER && s.name.startsWith("POST"), "gateway SERVER span");
    assert.equal(http.name, "POST /");
    assert.equal(http.parentSpanContext?.spanId, callerSpan);
    const call = one(spans, (s) => s.kind === SpanKind.CLIENT && s.name === "Greeter.Hello", "dashboard CLIENT span");
    assert.equal(call.parentSpanContext?.spanId, http.spanContext().spanId);
    const served = one(spans, (s) => s.kind === SpanKind.SERVER && s.name === "Greeter.Hello", "service SERVER span");
    assert.equal(served.parentSpanContext?.spanId, call.spanContext().spanId);
  });

  it("a dashboard WebSocket stream joins the trace of the upgrade request that opened it", async () => {
    exporter.reset();
    const traceId = randomBytes(16).toString("hex");
    const callerSpan = randomBytes(8).toString("hex");
    const url = `${mounted.url.replace("http", "ws")}/dashboard/api/socket/observed-greeter/Greeter.Echo`;
    const ws = new WebSocket(url, { headers: { traceparent: `00-${traceId}-${callerSpan}-01` } });
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const echoed = new Promise((resolve) => ws.once("message", (data) => resolve(JSON.parse(String(data)))));
    ws.send(JSON.stringify({ text: "traced" }));
    assert.deepEqual(await echoed, { text: "traced" });
    ws.send(""); // ends the client's side; the service ends the stream and the socket closes
    await new Promise((resolve) => ws.once("close", resolve));
    await until(() => exporter.getFinishedSpans().some((s) => s.kind === SpanKind.SERVER && s.name.startsWith("GET")), 5_000, "the upgrade's span ended");
    const spans = exporter.getFinishedSpans();
    for (const span of spans) assert.equal(span.spanContext().traceId, traceId, `${span.name} is in the caller's trace`);
    const upgrade = one(spans, (s) => s.kind === SpanKind.SERVER && s.name.startsWith("GET"), "gateway SERVER span of the upgrade");
    assert.equal(upgrade.parentSpanContext?.spanId, callerSpan);
    const stream = one(spans, (s) => s.kind === SpanKind.CLIENT && s.name === "Greeter.Echo", "dashboard CLIENT span of the stream");
    assert.equal(stream.parentSpanContext?.spanId, upgrade.spanContext().spanId);
    const served = one(spans, (s) => s.kind === SpanKind.SERVER && s.name === "Greeter.Echo", "service SERVER span of the stream");
    assert.equal(served.parentSpanContext?.spanId, stream.spanContext().spanId);
  });

  it("an MCP tool call over /mcp joins the trace of the HTTP request that carried it", async () => {
    const connected = await connectHttp(`${mounted.url}/mcp`);
    try {
      exporter.reset();
      const result = await connected.client.callTool({ name: "observed-greeter.Greeter.Hello", arguments: { name: "Ada" } });
      assert.deepEqual(result.structuredContent, { msg: "Hello Ada" });
      await until(() => exporter.getFinishedSpans().some((s) => s.kind === SpanKind.SERVER && s.name === "POST /mcp"), 5_000, "the gateway's span ended");
      const spans = exporter.getFinishedSpans();
      const served = one(spans, (s) => s.kind === SpanKind.SERVER && s.name === "Greeter.Hello", "service SERVER span");
      const call = one(spans, (s) => s.kind === SpanKind.CLIENT && s.name === "Greeter.Hello", "MCP client's CLIENT span");
      assert.equal(served.parentSpanContext?.spanId, call.spanContext().spanId);
      // The tools/call POST's span (the SDK may send other requests, each a trace of its own).
      const http = one(spans, (s) => s.spanContext().spanId === call.parentSpanContext?.spanId, "the CLIENT span's parent");
      assert.equal(http.kind, SpanKind.SERVER);
      assert.equal(http.name, "POST /mcp");
      assert.equal(http.parentSpanContext, undefined, "the request's span is the trace's root");
      for (const span of [call, served]) assert.equal(span.spanContext().traceId, http.spanContext().traceId, `${span.name} is in the request's trace`);
    } finally {
      await connected.close();
    }
  });

  it("through a client given to the gateway (no wrappers of its own) the service's span is the child of the request's", async () => {
    exporter.reset();
    const traceId = randomBytes(16).toString("hex");
    const reply = await post(
      `${given.url}/api/observed-greeter/Greeter/Hello`,
      { name: "Ada" },
      { traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` },
    );
    assert.equal(reply.status, 200, reply.text);
    await until(() => exporter.getFinishedSpans().some((s) => s.kind === SpanKind.SERVER && s.name.startsWith("POST")), 5_000, "the gateway's span ended");
    const spans = exporter.getFinishedSpans();
    const http = one(spans, (s) => s.kind === SpanKind.SERVER && s.name.startsWith("POST"), "gateway SERVER span");
    assert.equal(spans.filter((s) => s.kind === SpanKind.CLIENT).length, 0, "the given client records no span");
    const served = one(spans, (s) => s.kind === SpanKind.SERVER && s.name === "Greeter.Hello", "service SERVER span");
    assert.equal(served.spanContext().traceId, traceId);
    assert.equal(served.parentSpanContext?.spanId, http.spanContext().spanId);
  });

  it("/metrics counts requests by route, method and status, made-up paths under one route, and the gateway's calls by code", async () => {
    const before = parseMetrics((await request(`${gateway.url}/metrics`)).text);
    const count = (samples: typeof before, name: string, labels: Record<string, string>): number =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
    for (let i = 0; i < 3; i++) assert.equal((await post(`${gateway.url}/api/observed-greeter/Greeter/Hello`, { name: `n${i}` })).status, 200);
    assert.equal((await post(`${gateway.url}/api/observed-greeter/Greeter/Hello`, { name: "" })).status, 400);
    for (const made of ["nope", "other"]) assert.equal((await post(`${gateway.url}/api/${made}/X/Y`, {})).status, 404);
    assert.equal((await request(`${gateway.url}/health/live`)).status, 200);
    // Each request is counted when its response closes.
    const route = "/api/observed-greeter/Greeter.Hello";
    let after = before;
    const counted = await waitFor(async () => {
      after = parseMetrics((await request(`${gateway.url}/metrics`)).text);
      const requests = (samples: typeof before): number =>
        samples.filter((s) => s.name === "micro_gateway_requests_total" && s.labels.route !== "/metrics").reduce((sum, s) => sum + s.value, 0);
      return requests(after) - requests(before) === 7;
    }, 5_000);
    assert.ok(counted, "the seven requests counted");
    const delta = (name: string, labels: Record<string, string>): number => count(after, name, labels) - count(before, name, labels);
    assert.equal(delta("micro_gateway_requests_total", { route, method: "POST", code: "200", service: "gateway" }), 3);
    assert.equal(delta("micro_gateway_requests_total", { route, method: "POST", code: "400" }), 1);
    assert.equal(delta("micro_gateway_requests_total", { route: "/api/{unknown}", method: "POST", code: "404" }), 2);
    assert.equal(delta("micro_gateway_requests_total", { route: "/health/live", method: "GET", code: "200" }), 1);
    assert.equal(delta("micro_gateway_request_duration_seconds_count", { route, method: "POST" }), 4);
    assert.equal(delta("micro_gateway_request_duration_seconds_bucket", { route, method: "POST", le: "+Inf" }), 4);
    assert.ok(!after.some((s) => s.labels.route?.includes("nope")), "no series for a made-up path");
    // The gateway's client is observed too: its calls by code (the 404s never reached a service).
    assert.equal(delta("micro_client_calls_total", { target: "observed-greeter", endpoint: "Greeter.Hello", code: "200" }), 3);
    assert.equal(delta("micro_client_calls_total", { target: "observed-greeter", endpoint: "Greeter.Hello", code: "400" }), 1);
    assert.ok(count(after, "micro_registry_cache_lookups_total", { result: "hit" }) > 0, "registry cache lookups counted");
    // Scrapes count too, under /metrics.
    assert.ok(count(after, "micro_gateway_requests_total", { route: "/metrics", code: "200" }) >= 1);
  });

  it("without metrics there is no /metrics route (404), and calls still go through", async () => {
    assert.equal((await request(`${plain.url}/metrics`)).status, 404);
    assert.equal((await request(`${gateway.url}/metrics`, { method: "POST" })).status, 405);
    assert.equal((await post(`${plain.url}/api/observed-greeter/Greeter/Hello`, { name: "Bo" })).status, 200);
  });
});
