/**
 * The http broker on a bad day: deliveries it could not make are reported by publish(), a
 * subscriber that stops finishes what it accepted, certificates are verified, and its port turns
 * bad requests away with a clear answer while it keeps serving.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { HTTP_BROKER_SERVICE, HttpBroker, type HttpBrokerOptions } from "../../src/broker/http.js";
import { MicroError } from "../../src/errors/errors.js";
import { createLogger } from "../../src/logger/logger.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import type { Node } from "../../src/registry/registry.js";

const registry = new MemoryRegistry();
const quiet = createLogger({ level: "fatal" });
const brokers: HttpBroker[] = [];
const broker = (options: Partial<HttpBrokerOptions> = {}): HttpBroker => {
  const b = new HttpBroker({ registry, retryInterval: 50, logger: quiet, ...options });
  brokers.push(b);
  return b;
};
after(async () => {
  for (const b of brokers) await b.disconnect().catch(() => {});
  await registry.close();
});

const message = (n: number | string): { header: Record<string, string>; body: Buffer } => ({
  header: { "Content-Type": "text/plain", "X-Seq": String(n) },
  body: Buffer.from(`message ${n}`),
});

async function until(check: () => boolean, timeout: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeout} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A node in the registry as a Go Micro (or crashed ts-micro) subscriber leaves it. */
async function registerNode(topic: string, address: string, options: { secure?: boolean; version?: string } = {}): Promise<Node> {
  const node: Node = {
    id: `${topic}-00000000-0000-4000-8000-${String(Math.floor(Math.random() * 1e12)).padStart(12, "0")}`,
    address,
    metadata: { broker: "http", topic, secure: String(options.secure ?? false) },
  };
  await registry.register({ name: HTTP_BROKER_SERVICE, version: options.version ?? "ff.http.broadcast", metadata: null, endpoints: null, nodes: [node] });
  return node;
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** The node a broker registered for `topic`. */
async function nodeOf(topic: string): Promise<Node> {
  const node = (await registry.getService(HTTP_BROKER_SERVICE)).flatMap((s) => s.nodes).find((n) => n.metadata?.topic === topic);
  assert.ok(node, `a subscriber of ${topic} is registered`);
  return node;
}

describe("http broker: publish() reports what it could not deliver", () => {
  it("rejects naming a subscriber that is registered but down (crashed), and still delivers to the others", async () => {
    const topic = "reliability.crashed";
    const got: string[] = [];
    await broker().subscribe(topic, (e) => void got.push(e.message.header["X-Seq"]));
    const crashed = await registerNode(topic, `127.0.0.1:${await closedPort()}`);
    const publisher = broker({ retryFor: 300 });
    const outcome = await publisher.publish(topic, message(1)).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(outcome instanceof MicroError, `publish() rejected (it resolved, so the loss went unreported)`);
    assert.equal(outcome.code, 503);
    assert.match(outcome.detail, new RegExp(crashed.id), "the error names the subscriber");
    const undelivered = (outcome as MicroError & { undelivered?: Array<{ subscriber: string; address: string }> }).undelivered;
    assert.deepEqual(
      undelivered?.map((u) => [u.subscriber, u.address]),
      [[crashed.id, crashed.address]],
    );
    await until(
      () => got.includes("1"),
      5_000,
      () => `the live subscriber got ${got.join(",")}`,
    );
    await registry.deregister({ name: HTTP_BROKER_SERVICE, version: "ff.http.broadcast", metadata: null, endpoints: null, nodes: [crashed] });
  });

  it("retries a queue group's message until a member is back (within retryFor), then resolves", async () => {
    const topic = "reliability.queue-restart";
    const crashed = await registerNode(topic, `127.0.0.1:${await closedPort()}`, { version: "workers" });
    const published = broker({ retryFor: 10_000 }).publish(topic, message("while-down"));
    await new Promise((r) => setTimeout(r, 300));
    await registry.deregister({ name: HTTP_BROKER_SERVICE, version: "workers", metadata: null, endpoints: null, nodes: [crashed] });
    await new Promise((r) => setTimeout(r, 300)); // a moment with no member at all
    const got: string[] = [];
    await broker().subscribe(topic, (e) => void got.push(e.message.header["X-Seq"]), { queue: "workers" });
    await published;
    assert.deepEqual(got, ["while-down"]);
  });

  it("with no subscriber registered, resolves by default and rejects with requireSubscribers", async () => {
    await broker().publish("reliability.nobody", message(1));
    await assert.rejects(
      broker({ requireSubscribers: true }).publish("reliability.nobody", message(1)),
      (err: Error) => err instanceof MicroError && err.code === 503 && /no subscriber of "reliability\.nobody"/.test(err.message),
    );
  });

  it("a subscriber that stops finishes every message it accepted before disconnect() resolves, and publish() resolves for them", async () => {
    const topic = "reliability.drain";
    const subscriber = broker();
    let handled = 0;
    let started = 0;
    await subscriber.subscribe(topic, async () => {
      started++;
      await new Promise((r) => setTimeout(r, 150));
      handled++;
    });
    const publisher = broker({ retryFor: 0 });
    const outcomes = Array.from({ length: 4 }, (_, i) =>
      publisher.publish(topic, message(i)).then(
        () => "delivered",
        (err: Error) => err.message,
      ),
    );
    await until(
      () => started === 1,
      5_000,
      () => "the first message reached the handler",
    );
    await subscriber.disconnect();
    assert.equal(handled, started, `every handler that started finished before disconnect() resolved (${handled} of ${started})`);
    const results = await Promise.all(outcomes);
    assert.equal(results.filter((r) => r === "delivered").length, handled, `publish() resolved exactly for the handled messages: ${JSON.stringify(results)}`);
    for (const r of results)
      if (r !== "delivered")
        // How a refused message shows depends on timing: a 404 from the draining subscriber, or its
        // closing socket (refused, reset, hung up) — never a message the handler took.
        assert.match(
          r,
          /not delivered to 1 of 1 subscribers: reliability\.drain-.*(HTTP 404|ECONNREFUSED|ECONNRESET|socket hang up)/,
          "the others were reported",
        );
  });
});

describe("http broker: TLS", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-broker-tls-"));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const key = path.join(dir, "key.pem");
  const cert = path.join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );

  /** A Go Micro secure subscriber: https with a self-signed certificate. */
  async function secureSubscriber(topic: string): Promise<{ posts: string[]; node: Node; close(): Promise<void> }> {
    const posts: string[] = [];
    const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        posts.push(body);
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const node = await registerNode(topic, `127.0.0.1:${(server.address() as AddressInfo).port}`, { secure: true });
    return {
      posts,
      node,
      close: async () => {
        await registry.deregister({ name: HTTP_BROKER_SERVICE, version: "ff.http.broadcast", metadata: null, endpoints: null, nodes: [node] });
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  }

  it("verifies a secure subscriber's certificate by default: a self-signed one is refused and reported", async () => {
    const sub = await secureSubscriber("reliability.tls.default");
    try {
      await assert.rejects(broker({ retryFor: 0 }).publish("reliability.tls.default", message(1)), (err: Error) => /certificate/i.test(err.message));
      assert.equal(sub.posts.length, 0, "nothing was sent to an unverified peer");
    } finally {
      await sub.close();
    }
  });

  it("delivers to it with its CA, or with insecureSkipVerify (development)", async () => {
    const sub = await secureSubscriber("reliability.tls.trusted");
    try {
      await broker({ retryFor: 0, tls: { ca: fs.readFileSync(cert) } }).publish("reliability.tls.trusted", message(1));
      await broker({ retryFor: 0, tls: { insecureSkipVerify: true } }).publish("reliability.tls.trusted", message(2));
      assert.equal(sub.posts.length, 2);
    } finally {
      await sub.close();
    }
  });
});

describe("http broker: its port turns bad requests away and keeps serving", () => {
  const post = (address: string, id: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const [host, port] = address.split(":");
      const req = http.request(
        {
          host,
          port: Number(port),
          method: "POST",
          path: `/?id=${encodeURIComponent(id)}`,
          headers: { "Content-Type": "application/json", ...headers },
          agent: false,
        },
        (res) => {
          let text = "";
          res.on("data", (d) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode!, text }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });

  it("answers invalid JSON with 400 and a message saying so, an oversize body with 413, and still delivers", async () => {
    const topic = "reliability.input";
    const got: string[] = [];
    await broker({ maxBodySize: 1_024 }).subscribe(topic, (e) => void got.push(e.message.header["X-Seq"]));
    const node = await nodeOf(topic);
    const invalid = await post(node.address, node.id, '{"Header": {"Micro-Topic": ');
    assert.equal(invalid.status, 400);
    assert.match(MicroError.parse(invalid.text).detail, /JSON/);
    const notObject = await post(node.address, node.id, "[1,2]");
    assert.equal(notObject.status, 400);
    const big = Buffer.alloc(4_096, 0x61);
    const oversize = await post(node.address, node.id, big).catch((err: Error) => ({ status: 0, text: err.message }));
    assert.equal(oversize.status, 413, `oversize body: ${oversize.text}`);
    await broker().publish(topic, message("after"));
    assert.deepEqual(got, ["after"], "a normal publish is still delivered");
  });

  it("answers 503 once the messages it holds reach maxBufferedBytes, and takes them again when its handler catches up", async () => {
    const topic = "reliability.buffered";
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const got: string[] = [];
    await broker({ maxBufferedBytes: 10 * 1_024 }).subscribe(topic, async (e) => {
      await gate;
      got.push(e.message.header["X-Seq"]);
    });
    const node = await nodeOf(topic);
    // Each envelope is about 4 KiB: at most two fit in 10 KiB (one running, one queued).
    const envelope = (n: number): string =>
      JSON.stringify({ Header: { "Micro-Topic": topic, "X-Seq": String(n) }, Body: Buffer.alloc(3 * 1_024, n).toString("base64") });
    const answers: Array<{ status: number; text: string }> = [];
    const sent = [0, 1, 2, 3, 4].map((n) => post(node.address, node.id, envelope(n)).then((a) => void answers.push(a)));
    await until(
      () => answers.length >= 3,
      5_000,
      () => `${answers.length} of 5 answered while the handler is stuck`,
    );
    for (const a of answers) assert.equal(a.status, 503, "refused while the handler holds what fits");
    assert.match(MicroError.parse(answers[0].text).detail, /busy/);
    open();
    await Promise.all(sent);
    const accepted = answers.filter((a) => a.status === 200).length;
    assert.ok(accepted >= 1 && accepted <= 2, `${accepted} accepted`);
    assert.equal(got.length, accepted, "every accepted message was handled");
    await broker().publish(topic, message("after"));
    assert.equal(got.at(-1), "after", "taken again once the handler caught up");
  });

  it("closes a connection that never finishes its headers, refuses connections past the limit, and still delivers", async () => {
    const topic = "reliability.limits";
    const got: string[] = [];
    await broker({ headersTimeout: 300, maxConnections: 4 }).subscribe(topic, (e) => void got.push(e.message.header["X-Seq"]));
    const node = await nodeOf(topic);
    const [host, port] = node.address.split(":");
    const open = (): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const socket = net.connect({ host, port: Number(port) }, () => resolve(socket));
        socket.resume(); // read what the server sends, so its closing is seen
        socket.on("error", () => {});
        socket.once("error", reject);
      });
    // Slowloris: a request line and one header, then nothing.
    const slow = await open();
    slow.write(`POST /?id=${node.id} HTTP/1.1\r\nHost: x\r\n`);
    const closed = new Promise<void>((resolve) => slow.once("close", () => resolve()));
    const timer = new Promise<string>((resolve) => setTimeout(() => resolve("still open after 5 s"), 5_000).unref());
    assert.equal(await Promise.race([closed.then(() => "closed"), timer]), "closed", "the half-sent request was closed");
    // Hold more connections than allowed: the ones past the limit are closed by the server.
    const held = await Promise.all(Array.from({ length: 8 }, open));
    const closedCount = (): number => held.filter((s) => s.destroyed || s.readyState === "closed" || s.readableEnded).length;
    for (const s of held) s.on("end", () => s.destroy());
    await until(
      () => closedCount() >= 4,
      5_000,
      () => `${closedCount()} of 8 held connections closed (limit 4)`,
    );
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    await broker().publish(topic, message("after"));
    assert.deepEqual(got, ["after"], "a normal publish is still delivered");
  });
});
