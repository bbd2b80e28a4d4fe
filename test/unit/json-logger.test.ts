/**
 * The JSON log format: pino's layout (level number, epoch ms, bound fields, context, fields, msg),
 * one line per record on stderr, and a line is written even when a field cannot be serialized.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { MicroError } from "../../src/errors/errors.js";
import { jsonFields, jsonLine } from "../../src/logger/json.js";

describe("the JSON log format", () => {
  it("lays a line out as pino does", () => {
    const line = jsonLine(
      "warn",
      1700000000000,
      jsonFields({ pid: 7, service: "orders" }),
      { trace_id: "t1" },
      { attempt: 2, skipped: undefined },
      'said "hi"',
    );
    assert.equal(line, '{"level":40,"time":1700000000000,"pid":7,"service":"orders","trace_id":"t1","attempt":2,"msg":"said \\"hi\\""}\n');
    assert.deepEqual(JSON.parse(line), { level: 40, time: 1700000000000, pid: 7, service: "orders", trace_id: "t1", attempt: 2, msg: 'said "hi"' });
  });

  it("writes an Error as type, message and stack, and a cycle or a BigInt as text", () => {
    const cycle: Record<string, unknown> = { name: "loop" };
    cycle.self = cycle;
    const parsed = JSON.parse(jsonLine("error", 1, "", undefined, { err: new RangeError("too far"), cycle, big: 10n }, "failed"));
    assert.equal(parsed.err.type, "RangeError");
    assert.equal(parsed.err.message, "too far");
    assert.match(parsed.err.stack, /RangeError: too far/);
    assert.equal(parsed.cycle, "[object Object]");
    assert.equal(parsed.big, "10");
  });

  it("writes a MicroError's id, code, detail and status, and an error's cause, even a cause that loops", () => {
    const cause = new Error("socket closed");
    const err = new MicroError("orders", 503, "try later", "Service Unavailable");
    Object.defineProperty(err, "cause", { value: cause });
    const looping = new Error("outer");
    Object.defineProperty(looping, "cause", { value: looping });
    const parsed = JSON.parse(jsonLine("error", 1, "", undefined, { err, looping }, "failed"));
    assert.deepEqual(
      { type: parsed.err.type, id: parsed.err.id, code: parsed.err.code, detail: parsed.err.detail, status: parsed.err.status },
      { type: "MicroError", id: "orders", code: 503, detail: "try later", status: "Service Unavailable" },
    );
    assert.equal(parsed.err.cause.message, "socket closed");
    assert.equal(parsed.looping.message, "outer", "a cause chain that loops still gives a line");
  });

  it("createLogger writes lines at its level and above to stderr, with a child's fields", () => {
    const logger = pathToFileURL(path.resolve(import.meta.dirname, "..", "..", "src", "logger", "logger.js")).href;
    const script = `const { createLogger } = await import(${JSON.stringify(logger)});
const log = createLogger({ format: "json", level: "info", fields: { service: "orders" } });
log.debug("hidden");
log.child({ id: "n1" }).info("started", { port: 80 });
log.error("failed");`;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout, "", "nothing on stdout");
    const lines = child.stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      lines.map(({ time, ...rest }) => ({ ...rest, time: typeof time })),
      [
        { level: 30, pid: child.pid, service: "orders", id: "n1", port: 80, msg: "started", time: "number" },
        { level: 50, pid: child.pid, service: "orders", msg: "failed", time: "number" },
      ],
    );
  });
});
