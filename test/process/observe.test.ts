/**
 * Observability across processes: one trace through three traced processes (an RPC hop and a
 * publish), Prometheus metrics scraped from the probe port, and `micro logs` through Debug.Log.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { createClient, MicroError } from "../../src/index.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { quiet } from "../setup/logger.js";
import { parseMetrics } from "../setup/prometheus.js";
import { freePort, requireSharedNats } from "../setup/servers.js";
import { type SpanRecord, spansOf } from "../setup/traced-spans.js";
import { until, waitFor } from "../setup/wait.js";
import { cli, fixture, runCli, type ServiceProcess, startProcess, stopAll, tempRegistry } from "./harness.js";

const SERVER = 1;
const CLIENT = 2;
const PRODUCER = 3;
const CONSUMER = 4;

function only(spans: SpanRecord[], match: (s: SpanRecord) => boolean, what: string): SpanRecord {
  const found = spans.filter(match);
  assert.equal(found.length, 1, `${what}: expected one span, got ${JSON.stringify(found)}\nall: ${JSON.stringify(spans)}`);
  return found[0];
}

/**
 * The trace test on a transport and broker: the defaults (mux, http broker), and Go Micro's HTTP
 * transport with the NATS broker, so that the context is seen to travel in each one's headers.
 */
const stacks: { label: string; env: () => Promise<Record<string, string>> }[] = [
  { label: "mux transport, http broker", env: async () => ({}) },
  {
    label: "Go Micro's HTTP transport, NATS broker",
    env: async () => ({ MICRO_TRANSPORT: "http", MICRO_BROKER: "nats", MICRO_BROKER_ADDRESS: await requireSharedNats() }),
  },
];

for (const stack of stacks)
  describe(`traces across three processes (${stack.label})`, () => {
    const dir = tempRegistry();
    const registry = new LocalRegistry({ path: dir });
    // Picks each node's transport from its registration (mux, or Go Micro's HTTP transport).
    const client = createClient({ registry, logger: quiet });
    const processes: ServiceProcess[] = [];
    after(async () => {
      stopAll(processes);
      await client.close();
      await registry.close();
    });

    it("A → B over RPC and A → C over the broker share one trace, with correct parents; Go Micro's and W3C headers continue a trace", async () => {
      const env = { MICRO_REGISTRY_ADDRESS: dir, MICRO_TRACING: "1", ...(await stack.env()) };
      const back = await startProcess(fixture("traced-service"), { ...env, ROLE: "back", MICRO_LOG_LEVEL: "info", MICRO_LOG_FORMAT: "json" });
      const sink = await startProcess(fixture("traced-service"), { ...env, ROLE: "sink" });
      const front = await startProcess(fixture("traced-service"), { ...env, ROLE: "front" });
      processes.push(back, sink, front);

      // 1: no trace context from the caller (the test process has no tracing): A starts the trace.
      assert.deepEqual(await client.call("traced-front", "Front.Go", {}), { done: true });
      // 2: Go Micro's headers, ids as UUIDs as Go Micro's own tracer makes them.
      const goTrace = randomUUID();
      const goSpan = randomUUID();
      await client.call("traced-front", "Front.Go", {}, { metadata: { "Micro-Trace-Id": goTrace, "Micro-Span-Id": goSpan } });
      // 3: a W3C traceparent, as a gateway or any OpenTelemetry client sends (with a tracestate to keep).
      const w3cTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
      await client.call("traced-front", "Front.Go", {}, { metadata: { traceparent: `00-${w3cTrace}-00f067aa0ba902b7-01`, tracestate: "vendor=x" } });
      await until(
        () => (sink.output().match(/GOT traced\.work/g) ?? []).length === 3,
        10_000,
        () => `sink got: ${sink.output()}`,
      );

      const [a, b, c] = await Promise.all([spansOf(front), spansOf(back), spansOf(sink)]);
      const roots = a.filter((s) => s.name === "Front.Go" && s.kind === SERVER);
      assert.equal(roots.length, 3, JSON.stringify(a));
      const first = only(roots, (s) => s.parentSpanId === undefined, "A's root server span");
      const trace = first.traceId;
      const aClient = only(a, (s) => s.traceId === trace && s.kind === CLIENT, "A's client span");
      assert.equal(aClient.name, "Back.Work");
      assert.equal(aClient.parentSpanId, first.spanId);
      const bServer = only(b, (s) => s.traceId === trace && s.kind === SERVER, "B's server span");
      assert.equal(bServer.name, "Back.Work");
      assert.equal(bServer.parentSpanId, aClient.spanId);
      const aProducer = only(a, (s) => s.traceId === trace && s.kind === PRODUCER, "A's producer span");
      assert.equal(aProducer.name, "traced.work publish");
      assert.equal(aProducer.parentSpanId, first.spanId);
      const cConsumer = only(c, (s) => s.traceId === trace && s.kind === CONSUMER, "C's consumer span");
      assert.equal(cConsumer.name, "traced.work process");
      assert.equal(cConsumer.parentSpanId, aProducer.spanId);
      for (const span of [first, aClient, bServer, aProducer, cConsumer]) assert.equal(span.status, 0, `${span.name} ended with an error status`);

      // B's log line inside the handler carries the trace and span ids.
      const working = back
        .output()
        .split("\n")
        .filter((l) => l.includes('"working"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.trace_id === trace);
      assert.ok(working, `no "working" log line with trace_id ${trace}:\n${back.output()}`);
      assert.equal(working.span_id, bServer.spanId);

      // Go Micro's headers: the trace continues under the UUID's hex, parented by its span id's first 16 digits.
      const goHex = goTrace.replace(/-/g, "");
      const fromGo = only(roots, (s) => s.traceId === goHex, "A's server span under the Go Micro trace");
      assert.equal(fromGo.parentSpanId, goSpan.replace(/-/g, "").slice(0, 16));
      only(b, (s) => s.traceId === goHex, "B's span in the Go Micro trace");
      only(c, (s) => s.traceId === goHex, "C's span in the Go Micro trace");
      // W3C: continued as given.
      const fromW3c = only(roots, (s) => s.traceId === w3cTrace, "A's server span under the W3C trace");
      assert.equal(fromW3c.parentSpanId, "00f067aa0ba902b7");
      only(b, (s) => s.traceId === w3cTrace, "B's span in the W3C trace");
    });
  });

describe("metrics scraped over HTTP", () => {
  const dir = tempRegistry();
  const registry = new LocalRegistry({ path: dir });
  const client = createClient({ registry, logger: quiet });
  let node: ServiceProcess | undefined;
  let url = "";
  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}/metrics`;
    node = await startProcess(fixture("metered-service"), { MICRO_REGISTRY_ADDRESS: dir, MICRO_METRICS: "1", MICRO_HEALTH_ADDRESS: `127.0.0.1:${port}` });
  });
  after(async () => {
    stopAll([node]);
    await client.close();
    await registry.close();
  });

  it("counts equal the calls made, by endpoint and code; client calls, broker, registry cache and process metrics are there", async () => {
    for (let i = 0; i < 3; i++) await client.call("metered", "Echo.Echo", { i });
    for (let i = 0; i < 2; i++)
      await assert.rejects(client.call("metered", "Echo.Fail", {}, { retries: 0 }), (err: unknown) => err instanceof MicroError && err.code === 400);
    // Twice: the first looks the service up in the registry, the second finds it in the cache.
    for (let i = 0; i < 2; i++) await client.call("metered", "Echo.Relay", { relayed: i });
    await client.call("metered", "Echo.Publish", { hello: 1 });
    await client.call("metered", "Debug.Health", {});
    await until(() => node!.output().includes("GOT"), 10_000, "the subscriber got the message");

    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    let samples = parseMetrics(await response.text());
    const value = (name: string, labels: Record<string, string>): number | undefined =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    const requests = (endpoint: string, code: string) => value("micro_server_requests_total", { service: "metered", endpoint, code });

    assert.equal(requests("Echo.Echo", "200"), 5); // three calls and the two relayed
    assert.equal(requests("Echo.Fail", "400"), 2);
    assert.equal(requests("Echo.Fail", "200"), undefined);
    assert.equal(requests("Echo.Relay", "200"), 2);
    assert.equal(requests("Echo.Publish", "200"), 1);
    assert.ok(!samples.some((s) => s.labels.endpoint?.startsWith("Debug.")), "Debug.* is not counted");
    assert.equal(value("micro_server_request_duration_seconds_count", { endpoint: "Echo.Echo" }), 5);
    assert.equal(value("micro_server_request_duration_seconds_bucket", { endpoint: "Echo.Echo", le: "+Inf" }), 5);
    assert.equal(value("micro_server_requests_in_flight", { endpoint: "Echo.Echo" }), 0);
    assert.equal(value("micro_client_calls_total", { target: "metered", endpoint: "Echo.Echo", code: "200" }), 2);
    assert.equal(value("micro_client_call_duration_seconds_count", { target: "metered", endpoint: "Echo.Echo" }), 2);
    assert.equal(value("micro_broker_publishes_total", { topic: "metered.topic", result: "ok" }), 1);
    // The delivery is counted once the handler returned, which may be just after the publish did.
    await until(() => value("micro_broker_deliveries_total", { topic: "metered.topic", result: "ok" }) === 1, 5_000, "one delivery counted").catch(async () => {
      samples = parseMetrics(await (await fetch(url)).text());
      assert.equal(value("micro_broker_deliveries_total", { topic: "metered.topic", result: "ok" }), 1);
    });
    assert.ok((value("micro_registry_cache_lookups_total", { result: "miss" }) ?? 0) >= 1, "the first relayed call asked the registry");
    assert.ok((value("micro_registry_cache_lookups_total", { result: "hit" }) ?? 0) >= 1, "the second found the service in the cache");
    assert.ok((value("process_resident_memory_bytes", {}) ?? 0) > 0, "process metrics");
    assert.ok(
      samples.some((s) => s.name.startsWith("nodejs_eventloop_lag")),
      "event loop metrics",
    );
  });

  it("refuses what is not a GET of a known route, and keeps serving", async () => {
    assert.equal((await fetch(url, { method: "POST", body: "x" })).status, 405);
    const missing = await fetch(url.replace("/metrics", "/metricz"));
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /\/metrics/);
    assert.equal((await fetch(url)).status, 200);
  });
});

describe("micro logs", () => {
  const dir = tempRegistry();
  const env = { MICRO_REGISTRY_ADDRESS: dir };
  let node: ServiceProcess | undefined;
  before(async () => {
    node = await startProcess(fixture("logging-service"), { ...env, MICRO_LOG_LEVEL: "info", MICRO_LOG_FORMAT: "text" });
  });
  after(() => stopAll([node]));

  it("prints the node's recent records in order, as text or JSON, limited by --count", async () => {
    const { code, stdout, stderr } = await runCli(["logs", "logged"], env);
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split("\n");
    const records = lines.filter((l) => /record \d/.test(l));
    assert.equal(records.length, 5, stdout);
    for (const [i, line] of records.entries()) assert.match(line, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  logged  record ${i + 1}  n=${i + 1}$`));
    assert.ok(
      lines.some((l) => l.includes("service started")),
      "the framework's own records are there too",
    );

    const json = await runCli(["logs", "logged", "--count", "2", "--json"], env);
    assert.equal(json.code, 0, json.stderr);
    const last = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { node: string; timestamp: number; message: string; metadata: Record<string, string> });
    assert.deepEqual(
      last.map((r) => r.message),
      ["record 4", "record 5"],
    );
    assert.deepEqual(last[1].metadata, { level: "info", service: "logged", n: "5" });
    assert.ok(last[1].node.startsWith("logged-"));
    assert.ok(Math.abs(last[1].timestamp - Date.now() / 1000) < 600, "unix seconds");
  });

  it("the service's own terminal format is the human one when MICRO_LOG_FORMAT=text", () => {
    assert.match(node!.output(), /\d\d:\d\d:\d\d\.\d{3} INFO {2}logged {2}record 3 {2}n=3\n/);
  });

  it("-f prints new records as they are logged, until interrupted", async () => {
    const follower = spawn(process.execPath, [cli, "logs", "logged", "-f", "--since", "1h"], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    follower.stdout.on("data", (d) => (out += d));
    follower.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => follower.once("exit", resolve));
    try {
      await until(
        () => out.includes("record 5"),
        10_000,
        () => `the kept records first; got: ${out}`,
      );
      const said = await runCli(["call", "logged", "Say.Log", '{"text":"live record"}'], env);
      assert.equal(said.code, 0, said.stderr);
      await until(
        () => /WARN {2}logged {2}live record {2}from=Say\.Log/.test(out),
        10_000,
        () => `the new record; got: ${out}`,
      );
      follower.kill("SIGINT");
      assert.equal(await exited, 0, out);
    } finally {
      follower.kill("SIGKILL");
    }
  });

  it("reports an unknown service, a bad --count and a malformed Debug.Log request, and the node keeps serving", async () => {
    const missing = await runCli(["logs", "nobody"], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /service nobody not found/);
    const badCount = await runCli(["logs", "logged", "--count", "many"], env);
    assert.equal(badCount.code, 2);
    assert.match(badCount.stderr, /--count many is not a whole number/);
    const badRequest = await runCli(["stream", "logged", "Debug.Log", '{"count":"-3"}'], env);
    assert.notEqual(badRequest.code, 0);
    assert.match(badRequest.stderr, /count must be a non-negative integer/);
    assert.ok(await waitFor(async () => (await runCli(["logs", "logged", "--count", "1"], env)).code === 0, 5_000));
  });
});
