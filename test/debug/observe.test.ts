/**
 * The observability pieces in one process: the log ring behind Debug.Log, the human log format,
 * trace context parsing (garbage ignored), the chained OpenTelemetry context, the on/off switches, and /metrics when metrics are off.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { createClient, createService, MicroError } from "../../src/index.js";
import { humanLine } from "../../src/logger/human.js";
import { type LogRecord, LogRing, recordingLogger } from "../../src/logger/ring.js";
import { chainedContext } from "../../src/observe/chained-context.js";
import { switchFromEnv } from "../../src/observe/observe.js";
import { extractRemote, formatTraceparent, injectRemote, parseTraceparent } from "../../src/observe/trace-context.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { LogRecorder, quiet } from "../setup/logger.js";
import { freePort } from "../setup/servers.js";
import { until } from "../setup/wait.js";

function record(message: string, timestamp = 100): LogRecord {
  return { timestamp, metadata: { level: "info" }, message };
}

describe("log ring", () => {
  it("keeps the newest records up to its size, filtered by since and count", () => {
    const ring = new LogRing(3);
    for (let i = 1; i <= 5; i++) ring.write(record(`r${i}`, i * 10));
    assert.deepEqual(
      ring.read().map((r) => r.message),
      ["r3", "r4", "r5"],
    );
    assert.deepEqual(
      ring.read({ count: 2 }).map((r) => r.message),
      ["r4", "r5"],
    );
    assert.deepEqual(
      ring.read({ since: 40 }).map((r) => r.message),
      ["r4", "r5"],
    );
    assert.throws(() => new LogRing(0), RangeError);
  });

  it("a follower gets the backlog, then new records; a slow one is told what it missed; close ends it", async () => {
    const ring = new LogRing(2);
    ring.write(record("old"));
    const controller = new AbortController();
    const follower = ring.follow(controller.signal, { count: 1 });
    assert.equal((await follower.next()).value?.message, "old");
    for (let i = 0; i < 5; i++) ring.write(record(`new${i}`));
    const missed = (await follower.next()).value!;
    assert.match(missed.message, /3 log records were dropped/);
    assert.deepEqual([(await follower.next()).value?.message, (await follower.next()).value?.message], ["new3", "new4"]);
    const pending = follower.next();
    ring.close();
    assert.equal((await pending).done, true);
  });

  it("a recording logger keeps records at or above its level, with bound fields as strings", () => {
    const ring = new LogRing(10);
    const log = recordingLogger(quiet, ring, "info").child({ service: "s", n: 1 });
    log.debug("hidden");
    log.warn("shown", { obj: { a: 1 }, err: new Error("boom") });
    const [kept] = ring.read();
    assert.equal(ring.read().length, 1);
    assert.equal(kept.message, "shown");
    assert.equal(kept.metadata.level, "warn");
    assert.equal(kept.metadata.service, "s");
    assert.equal(kept.metadata.n, "1");
    assert.equal(kept.metadata.obj, '{"a":1}');
    assert.match(kept.metadata.err, /^Error: boom/);
  });
});

describe("human log format", () => {
  it("puts time, level, service and message first, then the fields; colour only when asked", () => {
    const time = new Date("2026-01-02T03:04:05.678Z");
    assert.equal(
      humanLine(time, "info", "started", { service: "orders", port: 8080, note: "two words" }, false),
      '03:04:05.678 INFO  orders  started  port=8080  note="two words"\n',
    );
    assert.ok(humanLine(time, "error", "failed", {}, true).includes("\u001b[31mERROR\u001b[0m"));
  });
});

describe("trace context headers", () => {
  it("reads a valid traceparent and ignores garbage, all-zero ids and version ff", () => {
    assert.deepEqual(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), {
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      flags: 1,
    });
    for (const bad of [
      "",
      "garbage",
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
      `00-${"z".repeat(32)}-00f067aa0ba902b7-01`,
      "x".repeat(10_000),
    ]) {
      assert.equal(parseTraceparent(bad), undefined, bad.slice(0, 60));
    }
  });

  it("falls back to Go Micro's headers, any case, and writes both kinds, replacing other spellings", () => {
    const fromGo = extractRemote({ "Micro-Trace-Id": "0af7651916cd43dd8448eb211c80319c", "micro-span-id": "b7ad6b7169203331" });
    assert.deepEqual(fromGo, { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", flags: 1 });
    assert.equal(extractRemote({ "Micro-Trace-Id": "not hex", "Micro-Span-Id": "b7ad6b7169203331" }), undefined);
    assert.equal(extractRemote({ "Micro-Service": "greeter", "Micro-Endpoint": "Greeter.Hello", "Micro_Span-Id": "b7ad6b7169203331" }), undefined);
    assert.deepEqual(extractRemote({ TRACEPARENT: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", TraceState: "a=b" }), {
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      flags: 1,
      state: "a=b",
    });
    const header: Record<string, string> = { Traceparent: "old", other: "kept" };
    injectRemote(header, { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", flags: 1, state: "a=b" });
    assert.deepEqual(header, {
      other: "kept",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      tracestate: "a=b",
      "Micro-Trace-Id": "0af7651916cd43dd8448eb211c80319c",
      "Micro-Span-Id": "b7ad6b7169203331",
    });
    // Every spelling of the four names goes, whatever its case; names of other lengths stay.
    // Names of the same lengths that differ in more than case stay (Micro-Service and micro-span-id are both 13 long).
    const mixed: Record<string, string> = {
      TRACESTATE: "x=y",
      "MICRO-TRACE-ID": "1",
      "micro-SPAN-id": "2",
      trace: "kept",
      "x-traceparent-copy": "kept",
      "Micro-Service": "kept",
      "Micro-Endpoint": "kept",
      "Micro_Span-Id": "kept",
    };
    injectRemote(mixed, { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", flags: 0 });
    assert.deepEqual(mixed, {
      trace: "kept",
      "x-traceparent-copy": "kept",
      "Micro-Service": "kept",
      "Micro-Endpoint": "kept",
      "Micro_Span-Id": "kept",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
      "Micro-Trace-Id": "0af7651916cd43dd8448eb211c80319c",
      "Micro-Span-Id": "b7ad6b7169203331",
    });
    assert.equal(formatTraceparent("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", 0x0a), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0a");
  });
});

describe("chained context", () => {
  it("is an immutable OpenTelemetry context: set values shadow earlier ones, deletes hide them, the base answers the rest", () => {
    const a = Symbol("a");
    const b = Symbol("b");
    const base = ROOT_CONTEXT.setValue(a, "from base");
    const root = chainedContext(base);
    assert.equal(root.getValue(a), "from base");
    const one = root.setValue(b, 1);
    const two = one.setValue(b, 2);
    assert.equal(root.getValue(b), undefined, "setValue makes a new context");
    assert.equal(one.getValue(b), 1);
    assert.equal(two.getValue(b), 2);
    assert.equal(two.getValue(a), "from base");
    const deleted = two.deleteValue(b).deleteValue(a);
    assert.equal(deleted.getValue(b), undefined);
    assert.equal(deleted.getValue(a), undefined);
    assert.equal(two.getValue(b), 2, "deleteValue makes a new context");
    assert.equal(root.deleteValue(b), root, "deleting a key not set changes nothing");
    // The API's helpers use it like any context.
    const span = trace.wrapSpanContext({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1 });
    const withSpan = trace.setSpan(root, span);
    assert.equal(trace.getSpan(withSpan), span);
    assert.equal(trace.getSpan(root), undefined);
    assert.equal(trace.getSpan(trace.deleteSpan(withSpan)), undefined);
  });

  it("folds a long chain into its base: a key set over and over keeps only its last value, others and deletes stay", () => {
    const kept = Symbol("kept");
    const gone = Symbol("gone");
    const counter = Symbol("counter");
    let context = chainedContext(ROOT_CONTEXT.setValue(gone, "from base")).setValue(kept, "k").deleteValue(gone);
    for (let i = 0; i < 1_000; i++) context = context.setValue(counter, i);
    assert.equal(context.getValue(counter), 999);
    assert.equal(context.getValue(kept), "k");
    assert.equal(context.getValue(gone), undefined, "a deleted key stays deleted after folding");
    // Folded at most every few links: the chain a read walks stays short.
    let links = 0;
    for (let link = context as unknown as { parent?: unknown } | undefined; link; link = link.parent as typeof link) links++;
    assert.ok(links <= 17, `a chain of ${links} links`);
  });
});

describe("metrics and tracing switches", () => {
  it("reads on/off values and refuses anything else, naming the variable", () => {
    const saved = process.env.MICRO_TEST_SWITCH;
    try {
      for (const on of ["1", "true", "ON", "yes"]) {
        process.env.MICRO_TEST_SWITCH = on;
        assert.equal(switchFromEnv("MICRO_TEST_SWITCH"), true);
      }
      for (const off of ["0", "false", "off", ""]) {
        process.env.MICRO_TEST_SWITCH = off;
        assert.equal(switchFromEnv("MICRO_TEST_SWITCH"), false);
      }
      process.env.MICRO_TEST_SWITCH = "maybe";
      assert.throws(() => switchFromEnv("MICRO_TEST_SWITCH"), /MICRO_TEST_SWITCH="maybe": expected 1\/true\/on/);
    } finally {
      if (saved === undefined) delete process.env.MICRO_TEST_SWITCH;
      else process.env.MICRO_TEST_SWITCH = saved;
    }
  });

  it("/metrics says how to turn metrics on when they are off; service.metrics serves them when on", async () => {
    const registry = new MemoryRegistry();
    const port = await freePort();
    const off = createService({ name: "plain", registry, logger: quiet, healthAddress: `127.0.0.1:${port}` });
    const on = createService({ name: "metered-here", registry, logger: quiet, metrics: { processMetrics: false } });
    on.handle(
      new (class Ping {
        async Ping(): Promise<string> {
          return "pong";
        }
      })(),
    );
    await off.start();
    await on.start();
    const client = createClient({ registry, logger: quiet });
    try {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(response.status, 404);
      assert.match(await response.text(), /MICRO_METRICS=1/);
      assert.equal(off.metrics, undefined);
      await client.call("metered-here", "Ping.Ping", {});
      const { body } = await on.metrics!.text();
      assert.match(body, /micro_server_requests_total\{endpoint="Ping\.Ping",code="200",service="metered-here"\} 1/);
      assert.doesNotMatch(body, /process_cpu/);
    } finally {
      await client.close();
      await on.stop();
      await off.stop();
    }
  });
});

describe("Debug.Log", () => {
  it("streams the service's records; a follower is ended by stop(), which does not wait out the grace period", { timeout: 20_000 }, async () => {
    const registry = new MemoryRegistry();
    const recorder = new LogRecorder();
    const service = createService({ name: "logging", registry, logger: recorder, gracePeriod: 2_000 });
    await service.start();
    service.log.warn("first", { k: "v" });
    const client = createClient({ registry, logger: quiet });
    try {
      const kept: LogRecord[] = [];
      for await (const r of client.stream<LogRecord>("logging", "Debug.Log", { count: 1 })) kept.push(r);
      assert.deepEqual(
        kept.map((r) => [r.message, r.metadata.level, r.metadata.k]),
        [["first", "warn", "v"]],
      );
      const bad = client.stream("logging", "Debug.Log", { since: "yesterday" });
      await assert.rejects(
        (async () => {
          for await (const _ of bad);
        })(),
        (err: unknown) => err instanceof MicroError && err.code === 400 && /since must be a non-negative integer/.test(err.detail),
      );
      const followed: string[] = [];
      const following = (async () => {
        for await (const r of client.stream<LogRecord>("logging", "Debug.Log", { stream: true, count: 1 })) followed.push(r.message);
      })();
      await until(() => followed.includes("first"), 5_000, "the kept record");
      service.log.warn("second");
      await until(() => followed.includes("second"), 5_000, "the new record");
      assert.deepEqual(followed, ["first", "second"]);
      await service.stop();
      await following.catch(() => {});
      assert.equal(recorder.find("grace period over"), undefined, "stop() drained without waiting for the follower");
    } finally {
      await client.close();
      await service.stop();
    }
  });
});
