/**
 * What the gateway does with hostile or careless clients: CORS (preflight, allowed and refused
 * origins), oversize heads (431), slowloris clients cut by the head and request timeouts, garbage
 * bytes on the port, and the per-client rate limit. After each, the gateway still serves.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { fixture, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { quiet } from "../setup/logger.js";
import { post, request } from "./http.js";

describe("gateway limits", () => {
  const dir = tempRegistry();
  const registry = new LocalRegistry({ path: dir });
  let service: ServiceProcess;
  let gateway: Gateway;
  let limited: Gateway;
  let hello: string;

  before(async () => {
    service = await startProcess(fixture("gateway-service"), { MICRO_REGISTRY_ADDRESS: dir });
    gateway = await createGateway({
      address: "127.0.0.1:0",
      registry,
      logger: quiet,
      cors: { origins: ["http://app.test"], exposeHeaders: ["X-Request-Id"] },
      headersTimeout: 1_000,
      requestTimeout: 2_000,
      maxHeaderSize: 8 * 1024,
    });
    limited = await createGateway({ address: "127.0.0.1:0", registry, logger: quiet, rateLimit: { rate: 0.01, burst: 2 } });
    hello = `${gateway.url}/api/gw/Greeter/Hello`;
  });
  after(async () => {
    await gateway.close();
    await limited.close();
    stopAll([service]);
    await registry.close();
  });

  const stillServes = async (): Promise<void> => {
    const reply = await post(hello, { name: "Ada" });
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json(), { msg: "Hello Ada" });
  };

  it("answers a CORS preflight from an allowed origin, and refuses other origins", async () => {
    const preflight = await request(hello, {
      method: "OPTIONS",
      headers: { Origin: "http://app.test", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, authorization" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers["access-control-allow-origin"], "http://app.test");
    assert.match(String(preflight.headers["access-control-allow-methods"]), /POST/);
    assert.equal(preflight.headers["access-control-allow-headers"], "content-type, authorization");
    const call = await post(hello, { name: "Ada" }, { Origin: "http://app.test" });
    assert.equal(call.status, 200);
    assert.equal(call.headers["access-control-allow-origin"], "http://app.test");
    assert.equal(call.headers["access-control-expose-headers"], "X-Request-Id");
    const stranger = await request(hello, { method: "OPTIONS", headers: { Origin: "http://evil.test", "Access-Control-Request-Method": "POST" } });
    assert.equal(stranger.status, 403);
    assert.equal(stranger.headers["access-control-allow-origin"], undefined);
    const strangerCall = await post(hello, { name: "Ada" }, { Origin: "http://evil.test" });
    assert.equal(strangerCall.headers["access-control-allow-origin"], undefined);
  });

  it("answers a head over the header limit with 431", async () => {
    const reply = await raw(gateway, `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(16 * 1024)}\r\n\r\n`);
    assert.match(reply.text, /^HTTP\/1\.1 431/);
    await stillServes();
  });

  it("cuts a client that sends its head too slowly (slowloris), and keeps serving others", async () => {
    const socket = net.connect(Number(new URL(gateway.url).port), "127.0.0.1");
    socket.on("error", () => {});
    let received = "";
    socket.on("data", (d) => (received += d));
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write("POST /api/gw/Greeter/Hello HTTP/1.1\r\nHost: x\r\n");
    // A header line every 200 ms, forever: only the head timeout can end it.
    let line = 0;
    const drip = setInterval(() => socket.write(`X-Drip-${line++}: 1\r\n`), 200);
    try {
      await stillServes();
      await bounded(closed, 15_000, "the slow client was never cut");
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
    assert.match(received, /^(HTTP\/1\.1 408|)/);
    await stillServes();
  });

  it("cuts a client that sends its body too slowly", async () => {
    const socket = net.connect(Number(new URL(gateway.url).port), "127.0.0.1");
    socket.on("error", () => {});
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write("POST /api/gw/Greeter/Hello HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{");
    const drip = setInterval(() => socket.write(" "), 200);
    try {
      await bounded(closed, 15_000, "the slow body was never cut");
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
    await stillServes();
  });

  it("answers a chunked body over the limit with 413 and closes the connection", async () => {
    const socket = net.connect(Number(new URL(gateway.url).port), "127.0.0.1");
    socket.on("error", () => {});
    let received = "";
    socket.on("data", (d) => (received += d));
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write("POST /api/gw/Probe/Whoami HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    // Keeps sending for as long as the connection is open: only the gateway can end it.
    const pump = setInterval(() => socket.writable && socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`), 5);
    try {
      await bounded(closed, 15_000, "the oversize body was read on and on");
    } finally {
      clearInterval(pump);
      socket.destroy();
    }
    assert.match(received, /^HTTP\/1\.1 413/);
    await stillServes();
  });

  it("answers a fetch client sending an oversize body with the 413 error JSON, not a reset", async () => {
    const expect413 = async (response: Response): Promise<void> => {
      assert.equal(response.status, 413);
      const error = (await response.json()) as { id: string; code: number; detail: string };
      assert.equal(error.id, "go.micro.gateway");
      assert.equal(error.code, 413);
      assert.match(error.detail, /larger than 1048576 bytes/);
    };
    // 12 MiB with its Content-Length (the default limit is 1 MiB): more than the socket buffers hold,
    // so most of it is still being sent when the gateway knows.
    const body = Buffer.alloc(12 * 1024 * 1024, 0x20);
    await expect413(await fetch(hello, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(30_000) }));
    // The same size streamed (chunked), so the gateway learns it only while reading.
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= body.length) return controller.close();
        controller.enqueue(body.subarray(sent, sent + 64 * 1024));
        sent += 64 * 1024;
      },
    });
    await expect413(
      await fetch(hello, { method: "POST", body: stream, duplex: "half", signal: AbortSignal.timeout(30_000) } as RequestInit & { duplex: "half" }),
    );
    await stillServes();
  });

  it("answers garbage bytes on the port with 400 and keeps serving", async () => {
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));
    const reply = await raw(gateway, garbage);
    assert.match(reply.text, /^HTTP\/1\.1 400/);
    const nonsense = await raw(gateway, "HELLO THERE\r\n\r\n");
    assert.match(nonsense.text, /^HTTP\/1\.1 400/);
    await stillServes();
  });

  it("limits each client's request rate (429 with Retry-After)", async () => {
    const url = `${limited.url}/health/live`;
    assert.equal((await request(url)).status, 200);
    assert.equal((await request(url)).status, 200);
    const over = await request(url);
    assert.equal(over.status, 429);
    assert.equal(over.json().code, 429);
    assert.ok(Number(over.headers["retry-after"]) > 0);
  });
});

/** Writes `bytes` on a fresh connection; resolves with what came back when the server closes it. */
function raw(gateway: Gateway, bytes: string | Buffer): Promise<{ text: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(new URL(gateway.url).port), "127.0.0.1", () => socket.write(bytes));
    let text = "";
    socket.on("data", (d) => (text += d));
    socket.on("error", () => {});
    socket.once("close", () => resolve({ text }));
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Error("the gateway neither answered nor closed the connection"));
    });
  });
}

async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} (after ${ms} ms)`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
