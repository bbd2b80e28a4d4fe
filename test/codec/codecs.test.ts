/**
 * Go Micro's codecs: bodies as Go Micro writes and reads them, and malformed input failing with
 * an error (never a crash or a silent wrong value).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  bytesCodec,
  Codecs,
  defaultCodecs,
  jsonCodec,
  jsonRpcCodec,
  ProtoSchema,
  protobufCodec,
  protoJsonCodec,
  protoRpcCodec,
  rawProtobufCodec,
} from "../../src/codec/index.js";
import { MicroError } from "../../src/errors/errors.js";

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString();
const request = { endpoint: "Helloworld.Call", kind: "request", id: "7" } as const;
const response = { endpoint: "Helloworld.Call", kind: "response", id: "7" } as const;

const schema = new ProtoSchema({
  source: `
    syntax = "proto3";
    package helloworld;
    message Request { string name = 1; int64 user_id = 2; repeated string tags = 3; }
    message Response { string msg = 1; }
    service Helloworld { rpc Call(Request) returns (Response); }
  `,
});

describe("codecs registered by default", () => {
  it("answers every Content-Type Go Micro's server knows, case- and parameter-insensitively", () => {
    for (const type of ["application/json", "application/json-rpc", "application/protobuf", "application/proto-rpc", "application/octet-stream"]) {
      assert.ok(defaultCodecs.find(type), type);
    }
    assert.equal(defaultCodecs.find("Application/JSON; charset=utf-8"), jsonCodec);
    assert.throws(
      () => new Codecs().get("application/x-nope"),
      (err: unknown) => err instanceof MicroError && err.code === 415,
    );
  });
});

describe("application/json", () => {
  it("tolerates the newline Go's json.Encoder writes, and reads an empty body as {}", () => {
    assert.deepEqual(jsonCodec.decode(Buffer.from('{"name":"John"}\n')), { name: "John" });
    assert.deepEqual(jsonCodec.decode(new Uint8Array(0)), {});
  });

  it("decodes short and long bodies, ASCII or not, as the same text", () => {
    for (const value of [{ name: "John" }, { name: "Jöhn 🚀" }, { name: "x".repeat(300) }, { name: `${"x".repeat(300)}é` }, ["a", 1, null]]) {
      assert.deepEqual(jsonCodec.decode(Buffer.from(JSON.stringify(value))), value);
      assert.deepEqual(jsonCodec.decode(new Uint8Array(Buffer.from(JSON.stringify(value)))), value);
    }
  });

  it("rejects malformed JSON", () => {
    assert.throws(() => jsonCodec.decode(Buffer.from('{"name":')), SyntaxError);
    // Invalid UTF-8 (a lone continuation byte, an overlong encoding) is refused, not replaced with U+FFFD.
    assert.throws(() => jsonCodec.decode(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0x80, 0x22, 0x7d])), /not valid UTF-8/);
    assert.throws(() => jsonCodec.decode(new Uint8Array([0x22, 0xc0, 0xaf, 0x22])), /not valid UTF-8/);
  });

  it("with a schema, reads proto field names and lowerCamel alike and writes lowerCamel (protojson)", () => {
    const codec = protoJsonCodec(schema);
    const expected = { name: "Ann", userId: "42", tags: ["a"] };
    assert.deepEqual(codec.decode(Buffer.from('{"name":"Ann","user_id":42,"tags":["a"]}\n'), request), expected);
    assert.deepEqual(codec.decode(Buffer.from('{"name":"Ann","userId":"42","tags":["a"]}'), request), expected);
    assert.deepEqual(JSON.parse(text(codec.encode({ name: "Ann", user_id: 7 }, request))), { name: "Ann", userId: "7", tags: [] });
    assert.deepEqual(codec.decode(Buffer.from('{"free":"form"}'), { endpoint: "Other.Call", kind: "request" }), { free: "form" });
  });
});

describe("application/json-rpc", () => {
  it("wraps a request and unwraps a response as Go Micro's jsonrpc codec", () => {
    assert.deepEqual(JSON.parse(text(jsonRpcCodec.encode({ name: "John" }, request))), { method: "Helloworld.Call", params: [{ name: "John" }], id: "7" });
    assert.deepEqual(JSON.parse(text(jsonRpcCodec.encode({ msg: "hi" }, response))), { id: "7", result: { msg: "hi" }, error: null });
    assert.deepEqual(jsonRpcCodec.decode(Buffer.from('{"params":[{"name":"John"}],"id":"7","method":"Helloworld.Call"}\n'), request), { name: "John" });
    assert.deepEqual(jsonRpcCodec.decode(Buffer.from('{"id":"7","result":{"msg":"hi"},"error":null}\n'), response), { msg: "hi" });
  });

  it("surfaces an error in the envelope as a MicroError with its code", () => {
    const body = JSON.stringify({ id: "7", result: null, error: '{"id":"helloworld","code":404,"detail":"nope","status":"Not Found"}' });
    assert.throws(
      () => jsonRpcCodec.decode(Buffer.from(body), response),
      (err: unknown) => err instanceof MicroError && err.code === 404 && err.id === "helloworld",
    );
  });

  it("carries events as bare JSON, and rejects bodies that are not envelopes where one is due", () => {
    assert.equal(text(jsonRpcCodec.encode({ id: 1 })), '{"id":1}');
    assert.throws(() => jsonRpcCodec.decode(Buffer.from("[1,2]"), request), SyntaxError);
    assert.throws(() => jsonRpcCodec.decode(Buffer.from('{"x":1}'), response), SyntaxError);
    assert.throws(() => jsonRpcCodec.decode(Buffer.from("{"), request), SyntaxError);
  });
});

describe("application/protobuf", () => {
  const codec = protobufCodec(schema);

  it("encodes by the endpoint's message type from the .proto service, as Go's proto.Marshal", () => {
    assert.deepEqual([...codec.encode({ name: "John" }, request)], [0x0a, 0x04, ...Buffer.from("John")]);
    assert.deepEqual([...codec.encode({ msg: "hi" }, response)], [0x0a, 0x02, ...Buffer.from("hi")]);
  });

  it("decodes to plain objects, accepting proto field names on the way in", () => {
    const bytes = codec.encode({ name: "Ann", user_id: 42, tags: ["x", "y"] }, request);
    assert.deepEqual(codec.decode(bytes, request), { name: "Ann", userId: "42", tags: ["x", "y"] });
    assert.deepEqual(codec.decode(new Uint8Array(0), request), { name: "", userId: "0", tags: [] });
  });

  it("fails on malformed bytes and on endpoints it has no type for", () => {
    assert.throws(() => codec.decode(Buffer.from([0x0a, 0x09, 0x41]), request), /claims 9 bytes/);
    assert.throws(() => codec.decode(Buffer.from([0x0f, 0x01]), request), /wire type 7/);
    assert.throws(() => codec.decode(Buffer.from([0x08, 0x01]), request), /field 1 of .helloworld.Request has wire type 0, expected 2/);
    assert.deepEqual(codec.decode(Buffer.from([0x10, 0x05, 0x98, 0x06, 0x01]), request), { name: "", userId: "5", tags: [] }, "unknown field 99 skipped");
    assert.throws(() => codec.decode(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), request));
    assert.throws(() => codec.encode({ name: "x" }, { endpoint: "Nope.Call", kind: "request" }), /no message type for Nope\.Call request/);
    assert.deepEqual(codec.decode(Buffer.from([1, 2]), { endpoint: "Nope.Call", kind: "request" }), Buffer.from([1, 2]));
  });

  it("without a schema passes bytes through", () => {
    assert.deepEqual(rawProtobufCodec.decode(Buffer.from([1, 2])), Buffer.from([1, 2]));
    assert.throws(() => rawProtobufCodec.encode({ a: 1 }), /register protobufCodec/);
  });
});

describe("application/proto-rpc", () => {
  const codec = protoRpcCodec(protobufCodec(schema));

  it("frames a request as Go Micro's protorpc: netstring(Request{method, seq}) + netstring(body)", () => {
    const bytes = Buffer.from(codec.encode({ name: "John" }, request));
    const header = Buffer.concat([Buffer.from([0x0a, 15]), Buffer.from("Helloworld.Call"), Buffer.from([0x11, 7, 0, 0, 0, 0, 0, 0, 0])]);
    const body = Buffer.from([0x0a, 0x04, ...Buffer.from("John")]);
    assert.deepEqual(bytes, Buffer.concat([Buffer.from([0, 0, 0, header.length]), header, Buffer.from([0, 0, 0, body.length]), body]));
    assert.deepEqual(codec.decode(bytes, request), { name: "John", userId: "0", tags: [] });
  });

  it("surfaces the error field of a response header as a MicroError", () => {
    const error = Buffer.from('{"id":"x","code":409,"detail":"taken","status":"Conflict"}');
    const header = Buffer.concat([Buffer.from([0x1a, error.length]), error]);
    const bytes = Buffer.concat([Buffer.from([0, 0, 0, header.length]), header, Buffer.from([0, 0, 0, 0])]);
    assert.throws(
      () => codec.decode(bytes, response),
      (err: unknown) => err instanceof MicroError && err.code === 409,
    );
  });

  it("rejects truncated envelopes", () => {
    assert.throws(() => codec.decode(Buffer.from([0, 0]), request), RangeError);
    assert.throws(() => codec.decode(Buffer.from([0, 0, 0, 9, 1]), request), RangeError);
    assert.throws(() => codec.decode(Buffer.from([0, 0, 0, 1, 0x0a, 0, 0, 0, 0]), request), RangeError);
  });
});

describe("application/octet-stream", () => {
  it("passes bytes through both ways", () => {
    const bytes = Buffer.from([0, 1, 2, 255]);
    assert.equal(bytesCodec.encode(bytes), bytes);
    assert.equal(bytesCodec.decode(bytes), bytes);
    assert.throws(() => bytesCodec.encode({ a: 1 }), TypeError);
  });
});
