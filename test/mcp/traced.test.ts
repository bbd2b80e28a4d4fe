/**
 * A tool call joins the trace of the HTTP request that carried it: what a mount is given as
 * `trace` (the HTTP gateway's span for the request) travels in the call's metadata, so the
 * service's SERVER span is its child (spans recorded in memory by the OpenTelemetry SDK).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { SpanKind, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Greeter } from "../../examples/greeter/greeter.js";
import { createService, type Service } from "../../src/index.js";
import { createMcpGateway, type McpGateway } from "../../src/mcp/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { quiet } from "../setup/logger.js";
import { until } from "../setup/wait.js";
import { connectHttp } from "./harness.js";

const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));

describe("MCP tool calls traced", () => {
  const registry = new MemoryRegistry();
  const traceId = randomBytes(16).toString("hex");
  const requestSpan = randomBytes(8).toString("hex");
  let greeter: Service;
  let gateway: McpGateway;
  let server: http.Server;

  before(async () => {
    greeter = createService({ name: "greeter", registry, logger: quiet, tracing: true });
    greeter.handle(new Greeter());
    await greeter.start();
    gateway = createMcpGateway({ registry, logger: quiet });
    // As the HTTP gateway mounts it: each request handed over with its span's trace headers.
    server = http.createServer((req, res) => void gateway.mount.handle(req, res, { traceparent: `00-${traceId}-${requestSpan}-01` }));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });

  after(async () => {
    await gateway.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await greeter.stop();
  });

  it("the service's span is the child of the request's span, in its trace", async () => {
    const connected = await connectHttp(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
    try {
      const result = await connected.client.callTool({ name: "greeter.Greeter.Hello", arguments: { name: "Ada" } });
      assert.deepEqual(result.structuredContent, { msg: "Hello Ada" });
    } finally {
      await connected.close();
    }
    await until(() => exporter.getFinishedSpans().some((s) => s.name === "Greeter.Hello"), 5_000, "the service's span ended");
    const served = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER && s.name === "Greeter.Hello");
    assert.equal(served.length, 1);
    assert.equal(served[0].spanContext().traceId, traceId);
    assert.equal(served[0].parentSpanContext?.spanId, requestSpan);
  });
});
