/**
 * The gRPC server on the wire, driven with bare node:http2 requests: `application/grpc+json`
 * without a .proto (what a JSON gRPC client sends), Go Micro's `x-content-type` override, and
 * requests that are not proper gRPC (wrong method, wrong or unsupported content type, a
 * compressed message, a message cut short), each answered as the gRPC over HTTP/2 spec says,
 * after which the server still answers.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { createService, type Service } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { quiet } from "../setup/logger.js";
import { Echo, echoEndpoints } from "./echo-handler.js";

interface Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  messages: Buffer[];
}

function frame(body: Buffer, flag = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = flag;
  prefix.writeUInt32BE(body.length, 1);
  return Buffer.concat([prefix, body]);
}

/** One request on a fresh connection; resolves with what came back (bounded by 5 s). */
function request(address: string, headers: http2.OutgoingHttpHeaders, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`);
    session.on("error", reject);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error("no answer in 5 s"));
    }, 5_000);
    const stream = session.request({ ":method": "POST", te: "trailers", ...headers }, { endStream: false });
    const answer: Answer = { status: 0, headers: {}, trailers: {}, messages: [] };
    let data = Buffer.alloc(0);
    stream.on("response", (h) => {
      answer.status = Number(h[":status"]);
      answer.headers = h;
    });
    stream.on("trailers", (t) => {
      answer.trailers = t;
    });
    stream.on("data", (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
    });
    stream.on("close", () => {
      clearTimeout(timer);
      for (let at = 0; at + 5 <= data.length; ) {
        const length = data.readUInt32BE(at + 1);
        answer.messages.push(data.subarray(at + 5, at + 5 + length));
        at += 5 + length;
      }
      session.close();
      resolve(answer);
    });
    stream.end(body);
  });
}

/** grpc-status of an answer: in the trailers, or in the headers of a trailers-only answer. */
const statusOf = (a: Answer): string | undefined => String(a.trailers["grpc-status"] ?? a.headers["grpc-status"] ?? "");

describe("the gRPC server on the wire (bare HTTP/2)", () => {
  const registry = new MemoryRegistry();
  let service: Service;
  let address = "";

  before(async () => {
    service = createService({ name: "echo", server: "grpc", registry, address: "127.0.0.1:0", logger: quiet });
    service.handle(new Echo(), { endpoints: echoEndpoints });
    await service.start();
    address = service.address!;
  });
  after(async () => {
    await service?.stop();
    await registry.close();
  });

  const json = (value: unknown): Buffer => frame(Buffer.from(JSON.stringify(value)));

  it("answers application/grpc+json without a .proto, echoing the content type", async () => {
    const answer = await request(
      address,
      { ":path": "/anything.Echo/Call", "content-type": "application/grpc+json", "x-trace-id": "j-1" },
      json({ name: "json" }),
    );
    assert.equal(answer.status, 200);
    assert.equal(answer.headers["content-type"], "application/grpc+json");
    assert.equal(statusOf(answer), "0");
    assert.deepEqual(JSON.parse(answer.messages[0].toString()), { msg: "hello json", metadata: { "x-trace-id": "j-1" } });
  });

  it("lets Go Micro's x-content-type choose the codec", async () => {
    const answer = await request(
      address,
      { ":path": "/Echo/Call", "content-type": "application/grpc", "x-content-type": "application/json" },
      json({ name: "x" }),
    );
    assert.equal(statusOf(answer), "0");
    assert.equal(JSON.parse(answer.messages[0].toString()).msg, "hello x");
  });

  it("sends a MicroError over JSON as the status, its JSON as grpc-message and an errors.Error detail", async () => {
    const answer = await request(address, { ":path": "/echo.Echo/Fail", "content-type": "application/grpc+json" }, json({ code: 403, detail: "100% no" }));
    assert.equal(statusOf(answer), "7");
    assert.deepEqual(JSON.parse(decodeURIComponent(String(answer.trailers["grpc-message"] ?? answer.headers["grpc-message"]))), {
      id: "echo",
      code: 403,
      detail: "100% no",
      status: "Forbidden",
    });
    const details = Buffer.from(String(answer.trailers["grpc-status-details-bin"] ?? answer.headers["grpc-status-details-bin"]), "base64");
    assert.ok(details.includes(Buffer.from("type.googleapis.com/errors.Error")));
  });

  it("answers what is not gRPC as the spec says, and keeps serving", async () => {
    const get = await request(address, { ":method": "GET", ":path": "/echo.Echo/Call", "content-type": "application/grpc" }, Buffer.alloc(0));
    assert.equal(get.status, 405);
    assert.equal((await request(address, { ":path": "/echo.Echo/Call", "content-type": "text/plain" }, Buffer.from("hi"))).status, 415);
    const xml = await request(address, { ":path": "/echo.Echo/Call", "content-type": "application/grpc+xml" }, json({}));
    assert.equal(statusOf(xml), "13");
    assert.match(decodeURIComponent(String(xml.headers["grpc-message"])), /Unsupported Content-Type: application\/grpc\+xml/);
    const compressed = await request(address, { ":path": "/echo.Echo/Call", "content-type": "application/grpc+json" }, frame(Buffer.from("{}"), 1));
    assert.equal(statusOf(compressed), "12");
    const cut = await request(address, { ":path": "/echo.Echo/Call", "content-type": "application/grpc+json" }, json({ name: "x" }).subarray(0, 8));
    assert.notEqual(statusOf(cut), "0");
    const badJson = await request(address, { ":path": "/echo.Echo/Call", "content-type": "application/grpc+json" }, frame(Buffer.from("{nope")));
    assert.equal(statusOf(badJson), "3");
    const empty = await request(address, { ":path": "/echo.Echo/Call", "content-type": "application/grpc+json" }, Buffer.alloc(0));
    assert.equal(statusOf(empty), "3");
    const malformedPath = await request(address, { ":path": "/no-slash-method", "content-type": "application/grpc+json" }, json({}));
    assert.equal(statusOf(malformedPath), "12");
    const ok = await request(address, { ":path": "/echo.Echo/Call", "content-type": "application/grpc+json" }, json({ name: "after" }));
    assert.equal(JSON.parse(ok.messages[0].toString()).msg, "hello after");
  });
});
