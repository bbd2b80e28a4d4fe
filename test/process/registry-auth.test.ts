/**
 * Trustworthy discovery across processes (docs/auth.md): an echo service with MICRO_AUTH=jwt and
 * the private key signs its registry record; an unsigned echo (no auth, as a Go Micro node) runs
 * next to it, and a forged record (the signed node's metadata, signature included, with the
 * unsigned process's address) is written straight into the registry: the local registry's files,
 * and a NATS "create" announcement (the NATS server on 127.0.0.1:4222). With MICRO_REGISTRY_VERIFY
 * a client calls only the signed node; without it every node gets calls. Both processes also
 * subscribe to a topic on the HTTP broker: with verification on, messages go only to the signed
 * subscriber.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { generateKeyPair, JwtAuth } from "../../src/auth/jwt.js";
import { type Client, createClient, roundRobin } from "../../src/index.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { NatsRegistry } from "../../src/registry/nats.js";
import type { Registry, ServiceRecord } from "../../src/registry/registry.js";
import { NODE_SIGNATURE } from "../../src/registry/signature.js";
import { FileStore } from "../../src/store/file.js";
import { quiet } from "../setup/logger.js";
import { waitFor } from "../setup/wait.js";
import { fixture, type ServiceProcess, startProcess, stopAll, tempRegistry } from "./harness.js";

const CALLS = 60;
const NATS = "127.0.0.1:4222";

/** A registry kind: the env its processes use and this process's own client of it. */
interface Kind {
  name: string;
  env: (dir: string) => Record<string, string>;
  open: (dir: string) => Registry;
}

const kinds: Kind[] = [
  { name: "local", env: (dir) => ({ MICRO_REGISTRY: "local", MICRO_REGISTRY_ADDRESS: dir }), open: (dir) => new LocalRegistry({ path: dir }) },
  { name: "nats", env: () => ({ MICRO_REGISTRY: "nats", MICRO_REGISTRY_ADDRESS: NATS }), open: () => new NatsRegistry({ servers: NATS, logger: quiet }) },
];

for (const kind of kinds) describeKind(kind);

function describeKind(kind: Kind): void {
  describe(`signed registry records and MICRO_REGISTRY_VERIFY across processes (${kind.name} registry)`, () => {
    const registryDir = tempRegistry();
    const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-signed-registry-"));
    const keys = generateKeyPair();
    const registry = kind.open(registryDir);
    // A name of its own: the NATS server is shared with other tests.
    const name = `echo-${Math.random().toString(36).slice(2, 10)}`;
    const topic = `${name}.events`;
    const processes: ServiceProcess[] = [];
    const clients: Client[] = [];
    let signedId = "";
    let unsignedId = "";

    const client = (verifyRegistry: boolean, publicKey: string | undefined = keys.publicKey) => {
      const c = createClient({ registry, verifyRegistry, publicKey, strategy: roundRobin(), retries: 0, logger: quiet });
      clients.push(c);
      return c;
    };

    /** Which nodes answered CALLS calls to the service, by node id. */
    const spread = async (c: Client, endpoint = "Echo.Echo", body: object = {}) => {
      const counts: Record<string, number> = {};
      for (let i = 0; i < CALLS; i++) {
        const { node } = await c.call<{ node: string }>(name, endpoint, body);
        counts[node] = (counts[node] ?? 0) + 1;
      }
      return counts;
    };

    before(async () => {
      // Every caller may call echo: the test is about where calls go, not who may make them.
      const store = new FileStore({ dir: storeDir });
      const auth = new JwtAuth({ store, ...keys });
      await auth.rules.grant({ id: "echo", scope: "", access: "granted", priority: 0, resource: { type: "service", name, endpoint: "*" } });
      await auth.rules.grant({ id: "events", scope: "", access: "granted", priority: 0, resource: { type: "topic", name: topic, endpoint: "*" } });
      await auth.close();
      await store.close();
      const common = { ...kind.env(registryDir), SERVICE_NAME: name, SUBSCRIBE_TOPIC: topic, MICRO_REGISTRY_VERIFY: "true" };
      const signedEnv = {
        ...common,
        MICRO_STORE_ADDRESS: storeDir,
        MICRO_AUTH: "jwt",
        MICRO_AUTH_PUBLIC_KEY: keys.publicKey,
        MICRO_AUTH_PRIVATE_KEY: keys.privateKey,
      };
      const signed = await startProcess(fixture("echo-service"), signedEnv);
      processes.push(signed);
      const unsigned = await startProcess(fixture("echo-service"), { ...kind.env(registryDir), SERVICE_NAME: name, SUBSCRIBE_TOPIC: topic });
      processes.push(unsigned);
      const records = await registry.getService(name);
      const nodes = records.flatMap((r) => r.nodes);
      signedId = nodes.find((n) => n.address === signed.address)!.id;
      unsignedId = nodes.find((n) => n.address === unsigned.address)!.id;
      // The forgery: the signed node's record, signature and all, pointing at the unsigned process.
      const real = records.find((r) => r.nodes.some((n) => n.id === signedId))!;
      const realNode = real.nodes.find((n) => n.id === signedId)!;
      const forged: ServiceRecord = { ...real, nodes: [{ id: `${signedId}-forged`, address: unsigned.address, metadata: { ...realNode.metadata } }] };
      await registry.register(forged, { ttl: 60_000 });
      assert.ok(await waitFor(async () => (await registry.getService(name)).flatMap((r) => r.nodes).length === 3, 10_000), "the forged record is listed");
    });

    after(async () => {
      for (const c of clients) await c.close();
      stopAll(processes);
      await registry.close();
      fs.rmSync(storeDir, { recursive: true, force: true });
      fs.rmSync(registryDir, { recursive: true, force: true });
    });

    it("a node with the private key publishes a signature in its metadata; the unsigned node none", async () => {
      const nodes = (await registry.getService(name)).flatMap((r) => r.nodes);
      assert.match(nodes.find((n) => n.id === signedId)!.metadata![NODE_SIGNATURE], /^rs256:[\w-]+$/);
      assert.equal(nodes.find((n) => n.id === unsignedId)!.metadata![NODE_SIGNATURE], undefined);
    });

    it("verification on: the signed node gets every call, the forged record and the unsigned node none", async () => {
      const counts = await spread(client(true));
      assert.deepEqual(counts, { [signedId]: CALLS });
    });

    it("verification off: the unsigned node and the forged record (the same process) get calls too", async () => {
      const counts = await spread(client(false));
      assert.ok(counts[unsignedId] > 0, JSON.stringify(counts));
      assert.ok(counts[signedId] > 0, JSON.stringify(counts));
      assert.equal(counts[signedId] + counts[unsignedId], CALLS);
    });

    it("a service with MICRO_REGISTRY_VERIFY calls only signed nodes too (its own client)", async () => {
      // Forward runs on whichever node the verifying client picks: the signed one, whose client verifies.
      const counts = await spread(client(true), "Echo.Forward", { service: name, endpoint: "Echo.Echo" });
      assert.deepEqual(counts, { [signedId]: CALLS });
    });

    it("the HTTP broker with verification on delivers only to the signed subscriber; with it off, to both", async () => {
      const [signed, unsigned] = processes;
      const received = (p: ServiceProcess) =>
        p
          .output()
          .split("\n")
          .filter((line) => line === `MESSAGE ${topic}`).length;
      const subscribers = async () => (await registry.getService("micro.http.broker")).flatMap((r) => r.nodes).filter((n) => n.metadata?.topic === topic);
      assert.ok(await waitFor(async () => (await subscribers()).length === 2, 10_000), "both subscriptions are registered");
      const signatures = (await subscribers()).map((n) => n.metadata?.[NODE_SIGNATURE] ?? "unsigned").sort();
      assert.match(signatures[0], /^rs256:/, "the signed service signs its subscriber node");
      assert.equal(signatures[1], "unsigned");
      const verifying = client(true);
      for (let i = 0; i < 5; i++) await verifying.publish(topic, { i });
      assert.ok(await waitFor(() => received(signed) === 5, 10_000), "the signed subscriber got every message");
      assert.equal(received(unsigned), 0, "the unsigned subscriber got none");
      const trusting = client(false);
      for (let i = 0; i < 5; i++) await trusting.publish(topic, { i });
      assert.ok(await waitFor(() => received(signed) === 10 && received(unsigned) === 5, 10_000), "without verification both get them");
    });

    it("a signature checked with another key pair fails: nothing verifies, so nothing is called", async () => {
      await assert.rejects(client(true, generateKeyPair().publicKey).call(name, "Echo.Echo", {}), /not found/);
    });

    it("verification without a public key is a clear error, not a client that trusts every record", () => {
      assert.throws(() => createClient({ registry, verifyRegistry: true, publicKey: undefined, logger: quiet }), /MICRO_AUTH_PUBLIC_KEY/);
    });
  });
}
