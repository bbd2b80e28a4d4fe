import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bytesCodec, Codecs, jsonCodec, msgpackCodec, textCodec } from "../../src/codec/index.js";
import { parseDuration } from "../../src/config/duration.js";
import { newId } from "../../src/driver/crypto.js";
import { MicroError } from "../../src/errors/errors.js";
import { Metadata } from "../../src/metadata/metadata.js";
import { parsePluginName } from "../../src/service/resolve.js";

describe("MicroError", () => {
  it("serialises exactly as Go Micro", () => {
    assert.equal(MicroError.notFound("helloworld", "no user").toString(), '{"id":"helloworld","code":404,"detail":"no user","status":"Not Found"}');
  });
  it("parses Go Micro's JSON and never fails on plain text", () => {
    const e = MicroError.parse('{"id":"go.micro.client","code":408,"detail":"call timeout","status":"Request Timeout"}');
    assert.deepEqual(e.toJSON(), { id: "go.micro.client", code: 408, detail: "call timeout", status: "Request Timeout" });
    const plain = MicroError.parse("rpc: can't find service Greeter");
    assert.equal(plain.code, 0);
    assert.equal(plain.detail, "rpc: can't find service Greeter");
    assert.equal(MicroError.parse("null").code, 0);
  });
  it("wraps unknown throws as 500s", () => {
    assert.equal(MicroError.from(new Error("x"), "svc").code, 500);
    const original = MicroError.conflict("svc", "dup");
    assert.equal(MicroError.from(original, "other"), original);
  });
});

describe("Metadata", () => {
  it("reads keys case-insensitively and keeps the first spelling", () => {
    const md = new Metadata({ "X-Trace-Id": "1" });
    assert.equal(md.get("x-trace-id"), "1");
    md.set("X-TRACE-ID", "2");
    assert.deepEqual(md.toJSON(), { "X-Trace-Id": "2" });
  });
  it("merges with and without overwriting", () => {
    const md = new Metadata({ a: "1" }).merge({ A: "2", b: "3" }, false);
    assert.deepEqual(md.toJSON(), { a: "1", b: "3" });
    assert.equal(md.merge([["A", "9"]]).get("a"), "9");
  });
});

describe("codecs", () => {
  it("round-trips values through each codec", () => {
    const value = { id: 42, name: "hello", tags: ["a", "b"], ok: true };
    assert.deepEqual(jsonCodec.decode(jsonCodec.encode(value)), value);
    assert.deepEqual(msgpackCodec.decode(msgpackCodec.encode(value)), value);
    assert.deepEqual(Buffer.from(bytesCodec.decode(bytesCodec.encode(Buffer.from([1, 2, 3]))) as Uint8Array), Buffer.from([1, 2, 3]));
    assert.equal(textCodec.decode(textCodec.encode("héllo")), "héllo");
  });
  it("tolerates Go's trailing newline and empty bodies in JSON", () => {
    assert.deepEqual(jsonCodec.decode(Buffer.from('{"msg":"Hello John"}\n')), { msg: "Hello John" });
    assert.deepEqual(jsonCodec.decode(new Uint8Array(0)), {});
  });
  it("chooses by Content-Type, ignoring parameters, and rejects unknown types with 415", () => {
    const codecs = new Codecs();
    assert.equal(codecs.get("application/json; charset=utf-8"), jsonCodec);
    assert.equal(codecs.get(undefined), jsonCodec);
    assert.equal(codecs.get("text/html"), textCodec);
    assert.throws(
      () => codecs.get("application/x-nope"),
      (err: unknown) => err instanceof MicroError && err.code === 415 && /application\/x-nope/.test(err.detail),
    );
  });
});

describe("env parsing", () => {
  it("reads durations as Go Micro's seconds or with units", () => {
    assert.equal(parseDuration("30"), 30_000);
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("2m"), 120_000);
    assert.equal(parseDuration("1h30m"), 5_400_000);
    // Microseconds as Go writes them: us, the micro sign (U+00B5) and the Greek mu (U+03BC).
    for (const unit of ["us", "\u00b5s", "\u03bcs"]) assert.equal(parseDuration(`1500${unit}`), 1.5, unit);
    assert.equal(parseDuration("soon"), undefined);
  });
  it("reads plugin names and URLs", () => {
    assert.deepEqual(parsePluginName("nats://127.0.0.1:4222"), { plugin: "nats", address: "127.0.0.1:4222" });
    assert.deepEqual(parsePluginName("local"), { plugin: "local", address: undefined });
  });
});

describe("newId", () => {
  it("is a version 4 UUID, and 100,000 of them are all different", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const id = newId();
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      ids.add(id);
    }
    assert.equal(ids.size, 100_000);
  });
});
