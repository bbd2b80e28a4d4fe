/**
 * TLS and mTLS on the http transport (Go Micro's `transport.Secure`): calls work with the right
 * CA; a server certificate from another CA or an expired one, a missing, untrusted or expired
 * client certificate under mTLS, a plaintext
 * client of a TLS server and a TLS client of a plaintext server each fail at once with a clear
 * error, and the server keeps serving; with verifyService a connection refuses calls to a
 * service its server's certificate does not name.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MicroError } from "../../src/errors/errors.js";
import { MicroHeader } from "../../src/metadata/headers.js";
import { HttpTransport } from "../../src/transport/http/http.js";
import type { TlsOptions } from "../../src/transport/tls.js";
import { type Listener, type Message, NotDeliveredError } from "../../src/transport/transport.js";
import { makeTestCerts, type TestCerts } from "../setup/certs.js";
import { recordingLogger } from "../setup/logger.js";

let certs: TestCerts;
before(() => {
  certs = makeTestCerts();
});
after(() => certs.remove());

const echo = async (request: Message, call: { certificate?: { commonName: string } }) => ({
  header: { "X-Caller": call.certificate?.commonName ?? "-" },
  body: request.body,
});

function transport(tls: TlsOptions | undefined, lines: string[] = []): HttpTransport {
  return new HttpTransport({ tls, logger: recordingLogger(lines), dialTimeout: 3_000 });
}

/** One echo call on a fresh connection: the reply's text and caller, or the error's text. */
async function echoCall(client: HttpTransport, address: string, text = "hello"): Promise<{ body: string; caller?: string }> {
  const conn = await client.dial(address);
  try {
    const reply = await conn.call({ header: { [MicroHeader.Endpoint]: "Echo.Call" }, body: Buffer.from(text) }, { deadline: Date.now() + 5_000 });
    const error = reply.header[MicroHeader.Error];
    if (error) throw MicroError.parse(error);
    return { body: Buffer.from(reply.body).toString(), caller: reply.header["X-Caller"] };
  } finally {
    conn.close();
  }
}

const describeError = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

describe("http transport over TLS", () => {
  let server: Listener;
  let mtls: Listener;
  before(async () => {
    server = await transport({ cert: certs.server.cert, key: certs.server.key }).listen("127.0.0.1:0", { handler: echo });
    mtls = await transport({ cert: certs.server.cert, key: certs.server.key, ca: certs.ca, clientAuth: "require" }).listen("127.0.0.1:0", { handler: echo });
  });
  after(() => {
    server.destroy();
    mtls.destroy();
  });

  it("serves a client that trusts the server's CA, and says it is secure", async () => {
    const client = transport({ ca: certs.ca });
    assert.equal(client.secure, true);
    assert.equal(new HttpTransport().secure, false);
    assert.deepEqual(await echoCall(client, server.address, "over tls"), { body: "over tls", caller: "-" });
  });

  it("refuses a server whose certificate another CA signed, and one whose certificate expired", async () => {
    await assert.rejects(echoCall(transport({ ca: certs.otherCa }), server.address), (err: unknown) => {
      assert.ok(err instanceof NotDeliveredError, describeError(err));
      assert.match(err.message, /TLS: .*(self-signed|unable to verify|certificate)/i);
      return true;
    });
    const expired = await transport({ cert: certs.expired.cert, key: certs.expired.key }).listen("127.0.0.1:0", { handler: echo });
    try {
      await assert.rejects(echoCall(transport({ ca: certs.ca }), expired.address), (err: unknown) => {
        assert.ok(err instanceof NotDeliveredError, describeError(err));
        assert.match(err.message, /TLS: certificate has expired/);
        return true;
      });
    } finally {
      expired.destroy();
    }
  });

  it("under mTLS gives the handler the caller's certificate, and answers a client without one 403, then keeps serving", async () => {
    const good = transport({ ca: certs.ca, cert: certs.client.cert, key: certs.client.key });
    assert.deepEqual(await echoCall(good, mtls.address), { body: "hello", caller: "caller" });
    for (const [what, options] of [
      ["no certificate", { ca: certs.ca }],
      ["another CA's certificate", { ca: certs.ca, cert: certs.rogueClient.cert, key: certs.rogueClient.key }],
      ["an expired certificate", { ca: certs.ca, cert: certs.expired.cert, key: certs.expired.key }],
    ] as const) {
      await assert.rejects(echoCall(transport(options), mtls.address), (err: unknown) => {
        assert.ok(err instanceof MicroError && err.code === 403, `${what}: ${describeError(err)}`);
        assert.match(err.detail, /client certificate (required \(mTLS\)|refused: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_HAS_EXPIRED))/, what);
        return true;
      });
      assert.equal((await echoCall(good, mtls.address)).body, "hello", `serves after refusing ${what}`);
    }
  });

  it("tells a plaintext client that the server requires TLS, at once", async () => {
    await assert.rejects(echoCall(transport(undefined), server.address), (err: unknown) => {
      assert.match(describeError(err), /400.*plaintext client: this server requires TLS/);
      return true;
    });
    assert.equal((await echoCall(transport({ ca: certs.ca }), server.address)).body, "hello");
  });

  it("fails a TLS client's dial to a plaintext server at once, saying the server may be plaintext", async () => {
    const plain = await transport(undefined).listen("127.0.0.1:0", { handler: echo });
    try {
      await assert.rejects(echoCall(transport({ ca: certs.ca }), plain.address), (err: unknown) => {
        assert.ok(err instanceof NotDeliveredError, describeError(err));
        assert.match(err.message, /TLS: .*is the server plaintext\?/);
        return true;
      });
      assert.equal((await echoCall(transport(undefined), plain.address)).body, "hello", "the plaintext server keeps serving");
    } finally {
      plain.destroy();
    }
  });

  it("verifyService: checks the service name against the certificate instead of the address", async () => {
    const conn = await transport({ ca: certs.ca, verifyService: true }).dial(server.address);
    try {
      assert.ok(conn.verifyService, "a connection that checks service names");
      conn.verifyService("greeter"); // the certificate's CN
      assert.throws(
        () => conn.verifyService?.("payments"),
        (err: unknown) => err instanceof NotDeliveredError && /names greeter, not the service payments/.test(err.message),
      );
    } finally {
      conn.close();
    }
    const plain = await transport({ ca: certs.ca }).dial(server.address);
    assert.equal(plain.verifyService, undefined, "off by default");
    plain.close();
  });
});
