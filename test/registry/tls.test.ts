/**
 * The etcd and NATS registries over TLS with client certificates, against servers this test
 * starts on loopback ports (an etcd on 23798, a nats-server on 4335) with a CA it makes with
 * openssl: the registry conformance suite passes, and a client without the CA or without its
 * certificate is refused with a clear error. The NATS broker takes the same `tls` option, since
 * every NATS plugin connects through one helper.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { NatsBroker } from "../../src/broker/nats.js";
import { createLogger } from "../../src/logger/logger.js";
import { EtcdRegistry } from "../../src/registry/etcd.js";
import { NatsRegistry } from "../../src/registry/nats.js";
import { makeService, registryConformance } from "../conformance/registry.js";
import { privateEtcd, privateNats } from "../setup/servers.js";
import { makeCertificates } from "./fixtures/certificates.js";

const quiet = createLogger({ level: "silent" });
const certs = makeCertificates();
const etcd = privateEtcd(23798, { cert: certs.files.serverCert, key: certs.files.serverKey, clientCa: certs.files.ca });
const nats = privateNats(4335, ["--tls", "--tlscert", certs.files.serverCert, "--tlskey", certs.files.serverKey, "--tlscacert", certs.files.ca, "--tlsverify"]);
await Promise.all([etcd.start(), nats.start()]);
after(async () => {
  await Promise.all([etcd.dispose(), nats.dispose()]);
  certs.remove();
});

const etcdHosts = `127.0.0.1:${etcd.port}`;
const natsServers = `127.0.0.1:${nats.port}`;
const tls = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };

registryConformance("etcd over TLS, with a client certificate", () => new EtcdRegistry({ hosts: etcdHosts, tls, logger: quiet }));
registryConformance("nats over TLS, with a client certificate", () => new NatsRegistry({ servers: natsServers, tls, logger: quiet }));

describe("registry TLS", () => {
  const service = makeService("tls-refused", "1.0.0", ["a"]);

  it("etcd: hosts without a scheme are https when tls is given", () => {
    assert.deepEqual(new EtcdRegistry({ hosts: etcdHosts, tls }).hosts, [`https://${etcdHosts}`]);
    assert.throws(() => new EtcdRegistry({ tls: { ca: certs.ca, cert: certs.clientCert } }), /tls.cert and tls.key go together/);
  });

  it("etcd: a client that does not trust the server's CA, or has no certificate, is refused with the address in the error", async () => {
    // No CA given: the system's CAs, which did not sign this etcd's certificate.
    const untrusted = [
      { hosts: `https://${etcdHosts}` },
      { hosts: etcdHosts, tls: {} },
      { hosts: etcdHosts, tls: { cert: certs.clientCert, key: certs.clientKey } },
    ];
    for (const options of [...untrusted, { hosts: etcdHosts, tls: { ca: certs.ca } }]) {
      const registry = new EtcdRegistry({ ...options, timeout: 1_000, logger: quiet });
      try {
        await assert.rejects(registry.register(service, { ttl: 5_000 }), /etcd registry: register at https:\/\/127\.0\.0\.1:23798 failed/);
      } finally {
        await registry.close();
      }
    }
  });

  it("nats: a client without the CA or without a certificate is refused with the servers in the error", async () => {
    for (const options of [{}, { tls: { ca: certs.ca } }]) {
      const registry = new NatsRegistry({ servers: natsServers, ...options, connectTimeout: 1_000, logger: quiet });
      try {
        await assert.rejects(registry.getService("x"), /nats registry: cannot connect to nats:\/\/127\.0\.0\.1:4335/);
      } finally {
        await registry.close();
      }
    }
  });

  it("nats: the broker connects with the same tls option", async () => {
    const broker = new NatsBroker({ servers: natsServers, tls, logger: quiet });
    try {
      let deliver: (body: string) => void = () => {};
      const received = new Promise<string>((resolve) => (deliver = resolve));
      await broker.subscribe("tls.topic", async (event) => deliver(Buffer.from(event.message.body).toString()));
      await broker.publish("tls.topic", { header: {}, body: Buffer.from("over tls") });
      assert.equal(await received, "over tls");
    } finally {
      await broker.disconnect();
    }
  });
});
