/**
 * The HTTP transport's wire details, checked with raw sockets: Go Micro's request and reply
 * shapes, keep-alive, `Connection: close`, and bad input answered with 400/413/431 and a closed
 * connection while the server keeps serving. The same on a mux port that sniffs HTTP.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { MicroError } from "../../src/errors/errors.js";
import { MicroHeader } from "../../src/metadata/headers.js";
import { goMicroSniffer, HttpTransport } from "../../src/transport/http/http.js";
import { MuxTransport, splitHostPort } from "../../src/transport/mux/mux.js";
import type { Listener, ListenOptions, Message, Transport } from "../../src/transport/transport.js";
import { quiet } from "../setup/logger.js";

/** Sends raw bytes; resolves with everything the server wrote once it closes (or after `wait` ms). */
function exchange(address: string, bytes: string | Buffer, wait = 1_000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(splitHostPort(address), () => socket.write(bytes));
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, wait);
    socket.on("data", (d) => (text += d.toString("latin1")));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
  });
}

const post = (headers: Record<string, string>, body: string): string =>
  `POST / HTTP/1.1\r\nHost: x\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("")}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

const echo: ListenOptions = {
  handler: async (req): Promise<Message> => {
    if (req.header[MicroHeader.Endpoint] === "Fail.Call")
      return { header: { [MicroHeader.Error]: MicroError.notFound("svc", "no such thing").toString() }, body: new Uint8Array(0) };
    return { header: { [MicroHeader.ContentType]: req.header[MicroHeader.ContentType] ?? "application/json" }, body: req.body };
  },
};

for (const [name, make] of [
  ["http transport", () => new HttpTransport({ maxMessageSize: 1024, logger: quiet })],
  ["mux port answering HTTP", () => new MuxTransport({ logger: quiet, sniff: goMicroSniffer({ maxMessageSize: 1024, logger: quiet }) })],
] as Array<[string, () => Transport]>) {
  describe(`Go Micro HTTP on the wire: ${name}`, () => {
    let listener: Listener;
    before(async () => {
      listener = await make().listen("127.0.0.1:0", echo);
    });
    after(() => listener.destroy());

    async function stillServes(): Promise<void> {
      const { text } = await exchange(listener.address, post({ "Micro-Endpoint": "Echo.Call", Connection: "close" }, "ok"));
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.ok(text.endsWith("\r\n\r\nok"));
    }

    it("answers a Go Micro request with 200, the request's headers echoed and canonical, X- copies", async () => {
      const request = post(
        {
          "micro-endpoint": "Echo.Call",
          "Micro-ID": "7",
          "Micro-Service": "svc",
          "Content-Type": "application/json",
          Timeout: "5000000000",
          Connection: "close",
        },
        '{"a":1}\n',
      );
      const { text, closed } = await exchange(listener.address, request);
      assert.ok(closed, "Connection: close ends the connection after the reply");
      const [head, body] = text.split("\r\n\r\n");
      assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
      for (const line of [
        "Micro-Endpoint: Echo.Call",
        "Micro-Id: 7",
        "X-Micro-Id: 7",
        "X-Micro-Endpoint: Echo.Call",
        "Timeout: 5000000000",
        "Content-Type: application/json",
        "Content-Length: 8",
      ]) {
        assert.ok(head.split("\r\n").includes(line), `${line} in\n${head}`);
      }
      assert.equal(body, '{"a":1}\n');
    });

    it("puts an error in Micro-Error and X-Micro-Error with an empty body", async () => {
      const { text } = await exchange(listener.address, post({ "Micro-Endpoint": "Fail.Call", Connection: "close" }, "{}"));
      const error = '{"id":"svc","code":404,"detail":"no such thing","status":"Not Found"}';
      assert.ok(text.includes(`\r\nMicro-Error: ${error}\r\n`));
      assert.ok(text.includes(`\r\nX-Micro-Error: ${error}\r\n`));
      assert.ok(text.endsWith("Content-Length: 0\r\n\r\n"));
    });

    it("keeps the connection for the next request, pipelined requests answered in order", async () => {
      const two = post({ "Micro-Endpoint": "Echo.Call" }, "first") + post({ "Micro-Endpoint": "Echo.Call" }, "second");
      const { text, closed } = await exchange(listener.address, two, 300);
      assert.equal(closed, false);
      assert.equal(text.match(/HTTP\/1\.1 200 OK/g)?.length, 2);
      assert.ok(text.indexOf("first") < text.indexOf("second"));
    });

    it("reads a chunked body", async () => {
      const chunked =
        "POST / HTTP/1.1\r\nHost: x\r\nMicro-Endpoint: Echo.Call\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
      assert.ok((await exchange(listener.address, chunked)).text.endsWith("\r\n\r\nabcde"));
    });

    const bad: Array<[string, string | Buffer, number]> = [
      ["a malformed request line", "POST /\r\n\r\n", 400],
      ["a header line without a colon", "POST / HTTP/1.1\r\nno colon here\r\n\r\n", 400],
      ["a bad Content-Length", "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400],
      ["a bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400],
      ["a body over the limit", post({}, "x".repeat(2048)), 413],
      ["a chunked body over the limit", `POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${"x".repeat(2048)}\r\n0\r\n\r\n`, 413],
      ["a head over 1 MiB", `POST / HTTP/1.1\r\nX-Big: ${"y".repeat(1100 * 1024)}`, 431],
      ["a method other than POST", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 405],
    ];
    for (const [what, bytes, status] of bad) {
      it(`answers ${what} with ${status}, closes, and keeps serving`, async () => {
        const { text, closed } = await exchange(listener.address, bytes, 3_000);
        assert.ok(closed, "the connection is closed");
        assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `));
        assert.ok(text.includes("Connection: close"));
        await stillServes();
      });
    }

    it("survives a client that sends half a request and hangs up", async () => {
      const socket = net.connect(splitHostPort(listener.address));
      await new Promise((r) => socket.once("connect", r));
      socket.end("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nhalf");
      await new Promise((r) => socket.once("close", r));
      await stillServes();
    });

    it("survives random bytes after a valid start", async () => {
      const random = Buffer.from(Array.from({ length: 4096 }, () => Math.floor(Math.random() * 256)));
      const garbage = Buffer.concat([Buffer.from("POST "), random, Buffer.from("\r\n\r\n")]);
      const { closed } = await exchange(listener.address, garbage, 3_000);
      assert.ok(closed);
      await stillServes();
    });
  });
}

describe("HTTP transport client", () => {
  it("turns a non-200 reply into a transport error with the status as its code", async () => {
    const server = net.createServer((socket) =>
      socket.once("data", () => socket.end("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!")),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const conn = await new HttpTransport().dial(`127.0.0.1:${(server.address() as net.AddressInfo).port}`);
      const rsp = await conn.call({ header: {}, body: Buffer.from("x") });
      const err = MicroError.parse(rsp.header[MicroHeader.Error]);
      assert.equal(err.code, 413);
      assert.equal(err.id, "go.micro.client.transport");
      assert.match(err.detail, /too big!/);
      conn.close();
    } finally {
      server.close();
    }
  });

  it("rejects headers that would split the HTTP message", async () => {
    const listener = await new HttpTransport().listen("127.0.0.1:0", echo);
    try {
      const conn = await new HttpTransport().dial(listener.address);
      await assert.rejects(conn.call({ header: { "X-Evil": "a\r\nInjected: 1" }, body: new Uint8Array(0) }), /line break/);
      conn.close();
    } finally {
      listener.destroy();
    }
  });
});
