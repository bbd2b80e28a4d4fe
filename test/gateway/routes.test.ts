/**
 * The gateway in front of a service in another process: each route, each error status, metadata,
 * server streams as SSE and NDJSON, client and bidi streams over WebSocket, cancellation when
 * the HTTP client goes away (the handler's ctx.signal fires on the server), publish, OpenAPI
 * (validated by a real OpenAPI parser, and following the registry live), and mounts.
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import http, { type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { validate } from "@readme/openapi-parser";
import WebSocket from "ws";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import { cancelOnDisconnect } from "../../src/gateway/rpc.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { fixture, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { quiet } from "../setup/logger.js";
import { until, waitFor } from "../setup/wait.js";
import { openStream, post, request } from "./http.js";

describe("gateway routes against a service in another process", () => {
  const dir = tempRegistry();
  const registry = new LocalRegistry({ path: dir });
  let service: ServiceProcess;
  let other: ServiceProcess | undefined;
  let gateway: Gateway;
  let api: string;
  const mounted: string[] = [];

  before(async () => {
    service = await startProcess(fixture("gateway-service"), { MICRO_REGISTRY_ADDRESS: dir });
    gateway = await createGateway({
      address: "127.0.0.1:0",
      registry,
      logger: quiet,
      bodyLimit: 64 * 1024,
      mounts: [
        {
          prefix: "/",
          handle: (req, res) => {
            mounted.push(`dashboard ${req.url}`);
            res.end("dashboard");
          },
        },
        {
          prefix: "/mcp",
          handle: (req, res) => {
            mounted.push(`mcp ${req.url}`);
            res.end("mcp");
          },
          upgrade: (req, socket) => {
            mounted.push(`mcp upgrade ${req.url}`);
            socket.end("HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
          },
        },
      ],
    });
    api = `${gateway.url}/api/gw`;
  });
  after(async () => {
    await gateway.close();
    stopAll([service, other]);
    await registry.close();
  });

  const cancelledCount = async (): Promise<number> => (await post(`${api}/Probe/Cancelled`, {})).json<{ count: number }>().count;

  it("calls an endpoint at /api/{service}/{Handler}/{Method}, /api/{service}/{Handler.Method} and by GET", async () => {
    for (const url of [`${api}/Greeter/Hello`, `${api}/Greeter.Hello`]) {
      const reply = await post(url, { name: "Ada" });
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.headers["content-type"], "application/json");
      assert.deepEqual(reply.json(), { msg: "Hello Ada" });
    }
    const get = await request(`${api}/Greeter/Hello?name=Grace`);
    assert.deepEqual(get.json(), { msg: "Hello Grace" });
    const typed = await request(`${api}/Probe/Whoami?n=3&ok=true&tag=a&tag=b&s=x1`);
    assert.deepEqual(typed.json<{ request: unknown }>().request, { n: 3, ok: true, tag: ["a", "b"], s: "x1" });
  });

  it("sends {} for an empty body", async () => {
    const reply = await request(`${api}/Probe/Whoami`, { method: "POST" });
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json<{ request: unknown }>().request, {});
  });

  it("answers each error with its HTTP status and Go Micro's error JSON", async () => {
    const unknownService = await post(`${gateway.url}/api/nosuch/Greeter/Hello`, {});
    assert.equal(unknownService.status, 404);
    assert.deepEqual(Object.keys(unknownService.json()).sort(), ["code", "detail", "id", "status"]);
    assert.equal(unknownService.json().code, 404);
    assert.match(String(unknownService.json().detail), /nosuch/);
    const unknownEndpoint = await post(`${api}/Greeter/Nope`, {});
    assert.equal(unknownEndpoint.status, 404);
    assert.match(String(unknownEndpoint.json().detail), /Greeter\.Nope/);
    assert.equal((await post(`${gateway.url}/api/gw`, {})).status, 404);
    const malformed = await post(`${api}/Greeter/Hello`, '{"name": ');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json().id, "go.micro.gateway");
    assert.match(String(malformed.json().detail), /malformed JSON/);
    const refused = await post(`${api}/Greeter/Hello`, {});
    assert.deepEqual(refused.json(), { id: "greeter", code: 400, detail: "name is required", status: "Bad Request" });
    assert.equal(refused.status, 400);
    for (const code of [401, 403, 409, 500, 503]) {
      const reply = await post(`${api}/Probe/Fail`, { code, detail: `because ${code}` });
      assert.equal(reply.status, code, reply.text);
      assert.deepEqual(reply.json(), { id: "gw", code, detail: `because ${code}`, status: reply.json().status });
    }
    const timeout = await post(`${api}/Probe/Fail`, { code: 408 });
    assert.equal(timeout.status, 504, "a service's 408 is a gateway timeout");
    assert.equal(timeout.json().code, 408);
    const plain = await post(`${api}/Probe/Fail`, { code: 0 });
    assert.equal(plain.status, 500);
    const deadline = await post(`${api}/Probe/Slow`, { ms: 5_000 }, { "Micro-Timeout": "300ms" });
    assert.equal(deadline.status, 504, deadline.text);
    assert.equal(deadline.json().code, 408);
    const badDeadline = await post(`${api}/Probe/Slow`, { ms: 1 }, { "Micro-Timeout": "soon" });
    assert.equal(badDeadline.status, 400);
    assert.equal((await request(`${api}/Greeter/Hello`, { method: "PUT", body: "{}" })).status, 405);
    const tooLarge = await post(`${api}/Probe/Whoami`, { pad: "x".repeat(100 * 1024) });
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.json().code, 413);
    // and it still serves
    assert.equal((await post(`${api}/Greeter/Hello`, { name: "Ada" })).status, 200);
  });

  it("passes allow-listed headers and Authorization as call metadata, and nothing else", async () => {
    const reply = await post(
      `${api}/Probe/Whoami`,
      { a: 1 },
      { "X-Request-Id": "req-7", Authorization: "Bearer abc", "X-Micro-Tenant": "t1", "X-Secret": "no", Cookie: "c=1" },
    );
    const { metadata, request: body } = reply.json<{ metadata: Record<string, string>; request: unknown }>();
    assert.deepEqual(body, { a: 1 });
    const lower = Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k.toLowerCase(), v]));
    assert.equal(lower["x-request-id"], "req-7");
    assert.equal(lower.authorization, "Bearer abc");
    assert.equal(lower["x-micro-tenant"], "t1");
    assert.equal(lower["x-secret"], undefined);
    assert.equal(lower.cookie, undefined);
  });

  it("answers a server stream as Server-Sent Events, in order, then an end event", async () => {
    const stream = await openStream(`${api}/Greeter/Count`, { to: 5 }, { Accept: "text/event-stream" });
    assert.equal(stream.status, 200);
    assert.equal(stream.headers["content-type"], "text/event-stream");
    await stream.ended;
    const events = stream.text().split("\n\n").filter(Boolean);
    assert.deepEqual(events, [1, 2, 3, 4, 5].map((n) => `data: {"n":${n}}`).concat("event: end\ndata: {}"));
  });

  it("answers a server stream as NDJSON otherwise, and a stream refused at once with its status", async () => {
    const stream = await openStream(`${api}/Greeter/Count`, { to: 3 }, {});
    assert.equal(stream.headers["content-type"], "application/x-ndjson");
    await stream.ended;
    assert.deepEqual(
      stream
        .text()
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line)),
      [{ n: 1 }, { n: 2 }, { n: 3 }],
    );
    const refused = await post(`${api}/Greeter/Count`, { to: -1 });
    assert.equal(refused.status, 400);
    assert.equal(refused.json().id, "greeter");
  });

  it("cancels a call when the HTTP client goes away: the handler's ctx.signal fires", async () => {
    const before = await cancelledCount();
    const heldBefore = (await post(`${api}/Probe/Cancelled`, {})).json<{ held: number }>().held;
    const req = http.request(`${api}/Probe/Hold`, { method: "POST", agent: false, headers: { "Content-Type": "application/json" } });
    req.on("error", () => {});
    req.end("{}");
    // Once the service holds the call, the client goes away.
    const holding = async (): Promise<boolean> => (await post(`${api}/Probe/Cancelled`, {})).json<{ held: number }>().held > heldBefore;
    assert.ok(await waitFor(holding, 10_000), "the held call did not reach the service");
    req.destroy();
    assert.ok(await waitFor(async () => (await cancelledCount()) > before, 10_000), "the service saw no cancellation of the held call");
  });

  it("cancels a call on a keep-alive connection that carried calls before, whose finished calls left no listener on its signal", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets: Socket[] = [];
    const onConnection = (socket: Socket): void => void sockets.push(socket);
    gateway.server.on("connection", onConnection);
    try {
      const json = { "Content-Type": "application/json" };
      for (let n = 0; n < 50; n++) {
        const reply = await request(`${api}/Greeter/Hello`, { method: "POST", body: `{"name":"n${n}"}`, headers: json, agent });
        assert.deepEqual(reply.json(), { msg: `Hello n${n}` });
      }
      assert.equal(sockets.length, 1, "the calls did not share one connection");
      const signal = cancelOnDisconnect({ socket: sockets[0] } as IncomingMessage);
      assert.equal(getEventListeners(signal, "abort").length, 0, "finished calls left listeners on the connection's signal");

      const before = await cancelledCount();
      const heldBefore = (await post(`${api}/Probe/Cancelled`, {})).json<{ held: number }>().held;
      const held = http.request(`${api}/Probe/Hold`, { method: "POST", agent, headers: json });
      held.on("error", () => {});
      held.end("{}");
      const holding = async (): Promise<boolean> => (await post(`${api}/Probe/Cancelled`, {})).json<{ held: number }>().held > heldBefore;
      assert.ok(await waitFor(holding, 10_000), "the held call did not reach the service");
      assert.equal(getEventListeners(signal, "abort").length, 1, "the held call is not listening on its connection's signal");
      held.destroy();
      assert.ok(await waitFor(async () => (await cancelledCount()) > before, 10_000), "the service saw no cancellation of the held call");
    } finally {
      gateway.server.off("connection", onConnection);
      agent.destroy();
    }
  });

  it("cancels a server stream when the SSE client goes away", async () => {
    const before = await cancelledCount();
    const stream = await openStream(`${api}/Probe/Ticks`, {}, { Accept: "text/event-stream" });
    await until(() => stream.text().includes(`data: {"n":3}`), 10_000, "three ticks");
    stream.abort();
    assert.ok(await waitFor(async () => (await cancelledCount()) > before, 10_000), "the service saw no cancellation of the stream");
  });

  it("runs a client stream over WebSocket: requests, an empty message to end, the response", async () => {
    const ws = new WebSocket(`${api.replace("http", "ws")}/Greeter/Sum`);
    const messages: unknown[] = [];
    ws.on("message", (data) => messages.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    for (const n of [1, 2, 3, 4]) ws.send(JSON.stringify({ n }));
    ws.send("");
    const [code] = await closed(ws);
    assert.equal(code, 1000);
    assert.deepEqual(messages, [{ total: 10 }]);
  });

  it("runs a bidirectional stream over WebSocket, in order", async () => {
    const ws = new WebSocket(`${api.replace("http", "ws")}/Greeter/Echo`);
    const messages: Array<{ text: string }> = [];
    ws.on("message", (data) => messages.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const texts = Array.from({ length: 50 }, (_, i) => `m${i}`);
    for (const text of texts) ws.send(JSON.stringify({ text }));
    await until(
      () => messages.length === texts.length,
      10_000,
      () => `50 echoes, got ${messages.length}`,
    );
    assert.deepEqual(
      messages.map((m) => m.text),
      texts,
    );
    ws.send("");
    assert.equal((await closed(ws))[0], 1000);
  });

  it("runs a server stream over WebSocket with its request in the query string", async () => {
    const ws = new WebSocket(`${api.replace("http", "ws")}/Greeter/Count?to=4`);
    const messages: unknown[] = [];
    ws.on("message", (data) => messages.push(JSON.parse(String(data))));
    const [code] = await closed(ws);
    assert.equal(code, 1000);
    assert.deepEqual(messages, [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
  });

  it("cancels a WebSocket stream on the server when the socket closes", async () => {
    const before = await cancelledCount();
    const ws = new WebSocket(`${api.replace("http", "ws")}/Probe/Listen`);
    const messages: unknown[] = [];
    ws.on("message", (data) => messages.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    ws.send(JSON.stringify({ hello: 1 }));
    await until(() => messages.length === 1, 10_000, "the echo");
    ws.terminate();
    assert.ok(await waitFor(async () => (await cancelledCount()) > before, 10_000), "the service saw no cancellation of the WebSocket stream");
  });

  it("answers a malformed WebSocket message with an error and 1007, and refuses an unknown endpoint", async () => {
    const ws = new WebSocket(`${api.replace("http", "ws")}/Greeter/Echo`);
    const messages: Array<{ error?: { code: number } }> = [];
    ws.on("message", (data) => messages.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    ws.send("{nope");
    const [code] = await closed(ws);
    assert.equal(code, 1007);
    assert.equal(messages[0]?.error?.code, 400);
    const refused = new WebSocket(`${api.replace("http", "ws")}/Greeter/Nope`);
    const status = await new Promise<number>((resolve) => refused.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)));
    assert.equal(status, 404);
  });

  it("publishes at /api/publish/{topic} and /micro/broker/{topic}", async () => {
    const one = await post(`${gateway.url}/api/publish/gw.events`, { id: 1 });
    assert.equal(one.status, 200, one.text);
    assert.deepEqual(one.json(), { status: "ok", topic: "gw.events" });
    const two = await post(`${gateway.url}/micro/broker/gw.events`, { id: 2 });
    assert.equal(two.status, 200, two.text);
    const received = async (): Promise<unknown[]> => (await post(`${api}/Probe/Received`, {})).json<{ messages: unknown[] }>().messages;
    assert.ok(await waitFor(async () => (await received()).length >= 2, 10_000), "the subscriber did not get both messages");
    assert.deepEqual(await received(), [{ id: 1 }, { id: 2 }]);
    assert.equal((await post(`${gateway.url}/api/publish/gw.events`, "{oops")).status, 400);
    assert.equal((await request(`${gateway.url}/api/publish/gw.events`)).status, 405);
  });

  it("serves a valid OpenAPI 3.1 document of the registry, following it live", async () => {
    const doc = (await request(`${gateway.url}/openapi.json`)).json<{ openapi: string; paths: Record<string, { post: Record<string, unknown> }> }>();
    assert.equal(doc.openapi, "3.1.0");
    const result = await validate(structuredClone(doc) as never);
    assert.equal(result.valid, true, JSON.stringify(result));
    const hello = doc.paths["/api/gw/Greeter/Hello"]?.post as {
      summary: string;
      requestBody: { content: Record<string, { schema: unknown; example: unknown }> };
    };
    assert.ok(hello, Object.keys(doc.paths).join(", "));
    assert.equal(hello.summary, "Greets by name");
    assert.deepEqual(hello.requestBody.content["application/json"].schema, { type: "object", title: "HelloRequest", properties: { name: { type: "string" } } });
    assert.deepEqual(hello.requestBody.content["application/json"].example, { name: "Ada" });
    assert.ok(doc.paths["/api/gw/Greeter/Count"], "the stream endpoint is documented");
    assert.equal(doc.paths["/api/gw2/Greeter/Hello"], undefined);
    other = await startProcess(fixture("gateway-service"), { MICRO_REGISTRY_ADDRESS: dir, SERVICE_NAME: "gw2" });
    const hasOther = async (): Promise<boolean> => (await request(`${gateway.url}/openapi.json`)).text.includes("/api/gw2/Greeter/Hello");
    assert.ok(await waitFor(hasOther, 10_000), "the new service did not appear in the document");
    other.child.kill("SIGTERM");
    await other.exited;
    assert.ok(await waitFor(async () => !(await hasOther()), 10_000), "the stopped service stayed in the document");
  });

  it("hands other paths and upgrades to the mounts, longest prefix first", async () => {
    assert.equal((await request(`${gateway.url}/`)).text, "dashboard");
    assert.equal((await request(`${gateway.url}/services/gw`)).text, "dashboard");
    assert.equal((await request(`${gateway.url}/mcp`)).text, "mcp");
    assert.equal((await request(`${gateway.url}/mcp/sse?x=1`)).text, "mcp");
    const ws = new WebSocket(`${gateway.url.replace("http", "ws")}/mcp/ws`);
    const status = await new Promise<number>((resolve) => ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)));
    assert.equal(status, 418);
    assert.deepEqual(mounted, ["dashboard /", "dashboard /services/gw", "mcp /mcp", "mcp /mcp/sse?x=1", "mcp upgrade /mcp/ws"]);
  });

  it("answers the health probes", async () => {
    assert.deepEqual((await request(`${gateway.url}/health/live`)).json(), { status: "up" });
    const ready = await request(`${gateway.url}/health/ready`);
    assert.equal(ready.status, 200);
    assert.equal(ready.json().status, "up");
    assert.equal((await request(`${gateway.url}/health`)).status, 200);
  });
});

function closed(ws: WebSocket): Promise<[number, string]> {
  return new Promise((resolve) => ws.once("close", (code, reason) => resolve([code, String(reason)])));
}
