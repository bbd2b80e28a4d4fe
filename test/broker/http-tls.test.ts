/**
 * The HTTP broker over TLS and mTLS: a subscriber with a certificate serves HTTPS and registers
 * `secure: "true"`; a publisher trusting the CA and presenting a client certificate delivers to
 * it; a publisher without a client certificate, or trusting another CA, is refused with a clear
 * reason in its UndeliveredError, and the subscriber keeps receiving from the right publisher.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HTTP_BROKER_SERVICE, HttpBroker, type HttpBrokerTlsOptions, UndeliveredError } from "../../src/broker/http.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { makeTestCerts, type TestCerts } from "../setup/certs.js";
import { quiet } from "../setup/logger.js";

describe("http broker over TLS", () => {
  let certs: TestCerts;
  const registry = new MemoryRegistry();
  const brokers: HttpBroker[] = [];
  before(() => {
    certs = makeTestCerts();
  });
  after(async () => {
    await Promise.all(brokers.map((b) => b.disconnect()));
    certs.remove();
  });

  const broker = (tls: HttpBrokerTlsOptions | undefined): HttpBroker => {
    const b = new HttpBroker({ registry, retryFor: 0, logger: quiet, tls });
    brokers.push(b);
    return b;
  };
  const message = (text: string) => ({ header: { "X-Text": text }, body: Buffer.from(text) });

  it("delivers to an mTLS subscriber, and refuses publishers without the right certificates", async () => {
    const subscriber = broker({ cert: certs.server.cert, key: certs.server.key, ca: certs.ca, clientAuth: "require" });
    const got: string[] = [];
    await subscriber.subscribe("tls.topic", (event) => void got.push(event.message.header["X-Text"]));
    const [record] = await registry.getService(HTTP_BROKER_SERVICE);
    assert.equal(record?.nodes.find((n) => n.metadata?.topic === "tls.topic")?.metadata?.secure, "true");

    const good = broker({ ca: certs.ca, cert: certs.client.cert, key: certs.client.key });
    await good.publish("tls.topic", message("one"));
    assert.deepEqual(got, ["one"]);

    for (const [what, tls, reason] of [
      ["no client certificate", { ca: certs.ca }, /alert certificate required/],
      ["another CA", { ca: certs.otherCa, cert: certs.client.cert, key: certs.client.key }, /self-signed|unable to verify|certificate/i],
    ] as const) {
      await assert.rejects(broker(tls).publish("tls.topic", message(what)), (err: unknown) => {
        assert.ok(err instanceof UndeliveredError, String(err));
        assert.match(err.message, reason, what);
        return true;
      });
    }
    await good.publish("tls.topic", message("two"));
    assert.deepEqual(got, ["one", "two"]);
  });
});
