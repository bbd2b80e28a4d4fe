/**
 * The etcd Sync over TLS with client certificates, against an etcd this test starts on a free
 * loopback port with a CA it makes with the openssl CLI.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { isMicroError } from "../../src/errors/errors.js";
import { EtcdSync } from "../../src/sync/etcd.js";
import { LockTimeoutError } from "../../src/sync/sync.js";
import { makeCertificates } from "../registry/fixtures/certificates.js";
import { canConnect, freePort, privateEtcd } from "../setup/servers.js";

const certs = makeCertificates();
/** A free port whose neighbour (etcd's peer port) is free too. */
let port = await freePort();
while (await canConnect("127.0.0.1", port + 1)) port = await freePort();
const etcd = privateEtcd(port, { cert: certs.files.serverCert, key: certs.files.serverKey, clientCa: certs.files.ca });
await etcd.start();
after(async () => {
  await etcd.dispose();
  certs.remove();
});

const hosts = `127.0.0.1:${etcd.port}`;
const tls = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };

describe("etcd sync over TLS", () => {
  it("locks with a client certificate: one holder, the next waits", { timeout: 30_000 }, async () => {
    const a = new EtcdSync({ hosts, tls });
    const b = new EtcdSync({ hosts, tls });
    try {
      assert.deepEqual(a.hosts, [`https://${hosts}`], "hosts without a scheme are https with tls");
      const lock = await a.lock("tls/one", { ttl: 5_000 });
      await assert.rejects(b.lock("tls/one", { wait: 300 }), (err: unknown) => err instanceof LockTimeoutError);
      await lock.unlock();
      const next = await b.lock("tls/one", { wait: 5_000 });
      assert.ok(next.token > lock.token);
      await next.unlock();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("fails with a 503 without the CA or without a client certificate", { timeout: 60_000 }, async () => {
    const refused = [{ hosts: `https://${hosts}` }, { hosts, tls: { cert: certs.clientCert, key: certs.clientKey } }, { hosts, tls: { ca: certs.ca } }];
    for (const options of refused) {
      const sync = new EtcdSync(options);
      try {
        await assert.rejects(sync.lock("tls/refused", { wait: 0 }), (err: unknown) => isMicroError(err, 503), JSON.stringify(Object.keys(options.tls ?? {})));
      } finally {
        await sync.close();
      }
    }
  });

  it("refuses a client certificate without its key", () => {
    assert.throws(() => new EtcdSync({ tls: { ca: certs.ca, cert: certs.clientCert } }), /etcd sync: tls.cert and tls.key go together/);
  });
});
