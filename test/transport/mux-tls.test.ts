/**
 * TLS and mTLS on the mux transport (issue 21 §4), with certificates made by openssl: calls work
 * with the right CA; a wrong CA, an expired certificate, a missing or untrusted client certificate
 * under mTLS, a plaintext client and a TLS client of a plaintext server are each refused with a
 * clear error, and the server keeps serving the clients that are right.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import tls from "node:tls";
import { loadConfigSync } from "../../src/config/load.js";
import { MemorySource } from "../../src/config/memory.js";
import { MicroError } from "../../src/errors/errors.js";
import { type Context, createClient, createService, type PeerCertificate } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { transportTlsFromEnv } from "../../src/service/resolve.js";
import { goMicroSniffer } from "../../src/transport/http/http.js";
import { type MuxOptions, type MuxTlsOptions, MuxTransport, splitHostPort } from "../../src/transport/mux/mux.js";
import { ConnectionLostError, type Listener, NotDeliveredError } from "../../src/transport/transport.js";
import { makeTestCerts, type TestCerts } from "../setup/certs.js";
import { quiet, recordingLogger } from "../setup/logger.js";
import { rawPeer, serverProcess } from "./mux-peer.js";

let certs: TestCerts;
before(() => {
  certs = makeTestCerts();
});
after(() => certs.remove());

const echo = async (request: { body: Uint8Array }) => ({ header: {}, body: request.body });

async function echoServer(tls: MuxTlsOptions | undefined, logLines: string[] = []): Promise<Listener> {
  return new MuxTransport({ tls, logger: recordingLogger(logLines) }).listen("127.0.0.1:0", { handler: echo });
}

function client(options: MuxOptions["tls"]): MuxTransport {
  return new MuxTransport({ tls: options, logger: recordingLogger([]) });
}

/** One echo call on a fresh connection; the connection is closed after. */
async function echoCall(transport: MuxTransport, address: string, text = "hello"): Promise<string> {
  const conn = await transport.dial(address);
  try {
    const reply = await conn.call({ header: {}, body: Buffer.from(text) }, { deadline: Date.now() + 5_000 });
    return Buffer.from(reply.body).toString();
  } finally {
    conn.close();
  }
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

describe("mux over TLS", () => {
  it("serves calls to a client that trusts the server's CA, and advertises itself as secure", async () => {
    const server = await echoServer({ cert: certs.server.cert, key: certs.server.key });
    try {
      const transport = client({ ca: certs.ca });
      assert.equal(transport.secure, true);
      assert.equal(await echoCall(transport, server.address, "over tls"), "over tls");
      // Many calls at once on one connection, as the client's pool makes them.
      const conn = await transport.dial(server.address);
      const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => conn.call({ header: {}, body: Buffer.from(String(i)) })));
      assert.deepEqual(
        replies.map((r) => Buffer.from(r.body).toString()),
        Array.from({ length: 50 }, (_, i) => String(i)),
      );
      conn.close();
      assert.equal(new MuxTransport().secure, false);
    } finally {
      server.destroy();
    }
  });

  it("refuses a server whose certificate another CA signed, and one whose certificate expired", async () => {
    const rogue = await echoServer({ cert: certs.rogueServer.cert, key: certs.rogueServer.key });
    const expired = await echoServer({ cert: certs.expired.cert, key: certs.expired.key });
    const good = await echoServer({ cert: certs.server.cert, key: certs.server.key });
    try {
      const transport = client({ ca: certs.ca });
      await assert.rejects(echoCall(transport, rogue.address), (err: unknown) => {
        assert.ok(err instanceof NotDeliveredError, describeError(err));
        assert.match(err.message, /^dial 127\.0\.0\.1:\d+: TLS: unable to verify the first certificate$/);
        return true;
      });
      await assert.rejects(echoCall(transport, expired.address), (err: unknown) => {
        assert.ok(err instanceof NotDeliveredError, describeError(err));
        assert.match(err.message, /TLS: certificate has expired/);
        return true;
      });
      assert.equal(await echoCall(transport, good.address), "hello");
    } finally {
      rogue.destroy();
      expired.destroy();
      good.destroy();
    }
  });

  it("under mTLS refuses clients without a certificate, with one from another CA or an expired one, and serves the rest", async () => {
    const lines: string[] = [];
    const server = await echoServer({ cert: certs.server.cert, key: certs.server.key, ca: certs.ca, clientAuth: "require" }, lines);
    try {
      const refusals: Array<[string, MuxTlsOptions, RegExp]> = [
        ["no client certificate", { ca: certs.ca }, /client certificate required \(mTLS\)/],
        [
          "a client certificate from another CA",
          { ca: certs.ca, cert: certs.rogueClient.cert, key: certs.rogueClient.key },
          /client certificate refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE/,
        ],
        ["an expired client certificate", { ca: certs.ca, cert: certs.expired.cert, key: certs.expired.key }, /client certificate refused: CERT_HAS_EXPIRED/],
      ];
      const good = client({ ca: certs.ca, cert: certs.client.cert, key: certs.client.key });
      for (const [what, options, reason] of refusals) {
        await assert.rejects(echoCall(client(options), server.address), (err: unknown) => {
          // TLS 1.3 finishes the client's side of the handshake before the server checks its
          // certificate: the refusal arrives as a GoAway on the open connection.
          assert.ok(err instanceof ConnectionLostError, `${what}: ${describeError(err)}`);
          assert.match(err.message, reason, what);
          return true;
        });
        assert.equal(await echoCall(good, server.address, what), what, `serves a good client after refusing ${what}`);
      }
      // One line per kind of refusal per interval: the expired certificate's shares the untrusted one's.
      assert.ok(
        lines.some((line) => line.includes("client certificate required")),
        lines.join("\n"),
      );
      assert.ok(
        lines.some((line) => line.includes("client certificate refused")),
        lines.join("\n"),
      );
    } finally {
      server.destroy();
    }
  });

  it("tells a plaintext mux client that the server requires TLS, and keeps serving TLS clients", async () => {
    const lines: string[] = [];
    const server = await echoServer({ cert: certs.server.cert, key: certs.server.key }, lines);
    try {
      await assert.rejects(echoCall(new MuxTransport({ logger: recordingLogger([]) }), server.address), (err: unknown) => {
        assert.ok(err instanceof ConnectionLostError || err instanceof NotDeliveredError || err instanceof MicroError, describeError(err));
        assert.match(err.message, /this server requires TLS \(MICRO_TRANSPORT_SECURE=true\)/);
        return true;
      });
      assert.equal(await echoCall(client({ ca: certs.ca }), server.address), "hello");
      assert.ok(
        lines.some((line) => line.includes("plaintext client")),
        lines.join("\n"),
      );
    } finally {
      server.destroy();
    }
  });

  it("answers a plaintext HTTP request on a TLS port with a 400 saying TLS is required", async () => {
    const server = await echoServer({ cert: certs.server.cert, key: certs.server.key });
    try {
      const peer = await rawPeer(server.address, false);
      peer.socket.write("POST / HTTP/1.1\r\nHost: greeter\r\nContent-Length: 2\r\n\r\n{}");
      assert.equal(await peer.closedWithin(5_000), true);
      const response = peer.received().toString();
      assert.match(response, /^HTTP\/1\.1 400 Bad Request\r\n/);
      assert.ok(response.endsWith("\r\n\r\nplaintext client: this server requires TLS (MICRO_TRANSPORT_SECURE=true)\n"), response);
      assert.equal(await echoCall(client({ ca: certs.ca }), server.address), "hello");
    } finally {
      server.destroy();
    }
  });

  it("fails a TLS client's dial to a plaintext server at once, saying the server may be plaintext", async () => {
    const lines: string[] = [];
    const server = await echoServer(undefined, lines);
    try {
      await assert.rejects(echoCall(client({ ca: certs.ca }), server.address), (err: unknown) => {
        assert.ok(err instanceof NotDeliveredError, describeError(err));
        assert.match(err.message, /TLS: .*is the server plaintext\?/);
        return true;
      });
      assert.equal(await echoCall(new MuxTransport({ logger: recordingLogger([]) }), server.address), "hello");
      assert.ok(
        lines.some((line) => line.includes("a TLS client, but this server is plaintext")),
        lines.join("\n"),
      );
    } finally {
      server.destroy();
    }
  });

  it("answers Go Micro's HTTP transport on the same port after the TLS handshake", async () => {
    const transport = new MuxTransport({ tls: { cert: certs.server.cert, key: certs.server.key }, sniff: goMicroSniffer(), logger: recordingLogger([]) });
    const server = await transport.listen("127.0.0.1:0", { handler: echo });
    try {
      const { port } = splitHostPort(server.address);
      const socket = tls.connect({ host: "127.0.0.1", port, ca: certs.ca, ALPNProtocols: ["http/1.1"] });
      const chunks: Buffer[] = [];
      socket.on("data", (d: Buffer) => {
        chunks.push(d);
        if (Buffer.concat(chunks).toString().endsWith("over https")) socket.end();
      });
      socket.write("POST / HTTP/1.1\r\nHost: greeter\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\nover https");
      await new Promise<void>((resolve, reject) => {
        socket.once("close", () => resolve());
        socket.once("error", reject);
      });
      const response = Buffer.concat(chunks).toString();
      assert.match(response, /^HTTP\/1\.1 200 OK\r\n/);
      assert.ok(response.endsWith("\r\n\r\nover https"), response);
    } finally {
      server.destroy();
    }
  });

  it("closes a connection whose handshake does not finish within the preface timeout", async () => {
    const lines: string[] = [];
    const transport = new MuxTransport({ tls: { cert: certs.server.cert, key: certs.server.key }, prefaceTimeout: 200, logger: recordingLogger(lines) });
    const server = await transport.listen("127.0.0.1:0", { handler: echo });
    try {
      const silent = await rawPeer(server.address, false);
      const stalled = await rawPeer(server.address, false);
      stalled.socket.write(Buffer.from([0x16, 0x03, 0x01])); // the start of a ClientHello, then nothing
      assert.equal(await silent.closedWithin(5_000), true, "a client that sends nothing is closed");
      assert.equal(await stalled.closedWithin(5_000), true, "a stalled handshake is closed");
      assert.ok(
        lines.some((line) => line.includes("no TLS handshake within 200 ms")),
        lines.join("\n"),
      );
      assert.equal(await echoCall(client({ ca: certs.ca }), server.address), "hello");
    } finally {
      server.destroy();
    }
  });

  it("refuses to listen without a certificate", async () => {
    await assert.rejects(echoServer({ ca: certs.ca }), /serving TLS needs a certificate and its key/);
  });

  it("serves mTLS calls and streams from another process", async () => {
    const server = await serverProcess({ tls: { cert: certs.server.cert, key: certs.server.key, ca: certs.ca, clientAuth: "require" } });
    try {
      const good = client({ ca: certs.ca, cert: certs.client.cert, key: certs.client.key });
      assert.equal(await echoCall(good, server.address, "across processes"), "across processes");
      await assert.rejects(echoCall(client({ ca: certs.ca }), server.address), /client certificate required/);
      await assert.rejects(echoCall(new MuxTransport({ logger: recordingLogger([]) }), server.address), /requires TLS/);
      const conn = await good.dial(server.address);
      const stream = conn.stream({ header: {}, body: Buffer.alloc(0) });
      await stream.send({ header: {}, body: Buffer.from("one") });
      assert.equal(Buffer.from((await stream.recv())?.body ?? []).toString(), "one");
      stream.end();
      assert.equal(await stream.recv(), undefined);
      conn.close();
      assert.ok(server.alive(), "the server process is still running");
    } finally {
      server.stop();
    }
  });
});

describe("transport TLS from the environment", () => {
  it("reads MICRO_TRANSPORT_SECURE and the MICRO_TLS_* files", () => {
    assert.equal(transportTlsFromEnv({}), undefined);
    assert.equal(transportTlsFromEnv({ MICRO_TRANSPORT_SECURE: "false", MICRO_TLS_CERT: "/nope" }), undefined);
    const options = transportTlsFromEnv({
      MICRO_TRANSPORT_SECURE: "true",
      MICRO_TLS_CERT: certs.server.certFile,
      MICRO_TLS_KEY: certs.server.keyFile,
      MICRO_TLS_CA: certs.caFile,
      MICRO_TLS_CLIENT_AUTH: "require",
    });
    assert.equal(options?.cert?.toString(), certs.server.cert);
    assert.equal(options?.key?.toString(), certs.server.key);
    assert.equal(options?.ca?.toString(), certs.ca);
    assert.equal(options?.clientAuth, "require");
    assert.throws(() => transportTlsFromEnv({ MICRO_TRANSPORT_SECURE: "yes" }), /MICRO_TRANSPORT_SECURE=yes: expected true or false/);
    assert.throws(() => transportTlsFromEnv({ MICRO_TRANSPORT_SECURE: "true", MICRO_TLS_CLIENT_AUTH: "maybe" }), /MICRO_TLS_CLIENT_AUTH=maybe/);
    assert.throws(
      () => transportTlsFromEnv({ MICRO_TRANSPORT_SECURE: "true", MICRO_TLS_CERT: "/no/such/cert.pem" }),
      /MICRO_TLS_CERT=\/no\/such\/cert.pem: cannot read the file/,
    );
  });
});

describe("a service over mTLS", () => {
  it("advertises secure=true and shows a handler the caller's verified certificate", async () => {
    const registry = new MemoryRegistry();
    const serverTls = { cert: certs.server.cert, key: certs.server.key, ca: certs.ca, clientAuth: "require" as const };
    const service = createService({ name: "greeter", registry, logger: quiet, transport: new MuxTransport({ tls: serverTls, logger: quiet }) });
    service.handle({ WhoAmI: async (_req: unknown, ctx: Context) => ({ certificate: ctx.caller.certificate ?? null }) }, { name: "Greeter" });
    await service.start();
    const client = createClient({
      registry,
      logger: quiet,
      transport: new MuxTransport({ tls: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key }, logger: quiet }),
    });
    try {
      const [record] = await registry.getService("greeter");
      assert.equal(record?.nodes[0]?.metadata?.secure, "true");
      const reply = (await client.call("greeter", "Greeter.WhoAmI", {})) as { certificate: PeerCertificate | null };
      assert.equal(reply.certificate?.commonName, "caller");
      assert.deepEqual(reply.certificate?.subjectAltNames, ["DNS:caller"]);
      assert.match(reply.certificate?.fingerprint256 ?? "", /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    } finally {
      client.close();
      await service.stop();
      await registry.close();
    }
  });
});

describe("transport TLS from a service's config", () => {
  it("reads transport_secure and tls_* from the config, as the MICRO_* env vars", async () => {
    const config = loadConfigSync(
      new MemorySource({ transport_secure: true, tls_cert: certs.server.certFile, tls_key: certs.server.keyFile, tls_ca: certs.caFile }),
    );
    const registry = new MemoryRegistry();
    const service = createService({ name: "greeter", registry, logger: quiet, config });
    try {
      assert.equal(service.transport.secure, true);
      const plain = createService({ name: "plain", registry, logger: quiet, config: loadConfigSync(new MemorySource({ transport_secure: false })) });
      assert.equal(plain.transport.secure ?? false, false);
    } finally {
      await registry.close();
    }
  });
});
