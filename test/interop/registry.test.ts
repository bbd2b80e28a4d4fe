/**
 * Go Micro and ts-micro services sharing one registry: each side lists the other's services and
 * endpoints, and calls it by name. A ts-micro client picks the transport per node by itself: HTTP
 * for the Go Micro node, mux for the ts-micro one. One suite, run over each shared registry
 * (world.ts): NATS, etcd, and mDNS between two network namespaces.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { ServiceRecord } from "../../src/registry/registry.js";
import { waitFor } from "../setup/wait.js";
import { type GoProcess, runGo, startGo } from "./go.js";
import { createWorld, REGISTRY_KINDS, type RegistryKind, startTs, TsPeer, type TsProcess, type World } from "./world.js";

interface ListResult {
  services: string[];
  service?: ServiceRecord[];
  error?: unknown;
}

const ENDPOINTS = ["Helloworld.Call", "Helloworld.Echo", "Helloworld.Stream"];
const ETCD_PORT = 23796; // and 23797 for its peer URL

function registrySuite(kind: RegistryKind): void {
  describe(`shared ${kind} registry: Go Micro and ts-micro find and call each other`, () => {
    const id = randomUUID().slice(0, 8);
    const goName = `gohello-${id}`;
    const tsName = `tshello-${id}`;
    let world: World | undefined;
    let goServer: GoProcess | undefined;
    let tsServer: TsProcess | undefined;
    let peer: TsPeer | undefined;

    before(async () => {
      world = await createWorld(kind, ETCD_PORT);
      goServer = await startGo("helloworld", { ...world.go.env, INTEROP_NAME: goName }, 20_000, world.go.launch);
      tsServer = await startTs("ts-helloworld", world.ts, { INTEROP_NAME: tsName });
      peer = await TsPeer.start(world.ts);
    });
    after(async () => {
      await Promise.allSettled([peer?.stop(), tsServer?.stop(), goServer?.stop()]);
      await world?.dispose();
    });

    const goClient = (env: Record<string, string>): Promise<ListResult & { msg?: string; stream?: unknown[]; error?: unknown }> =>
      runGo("client", { ...world!.go.env, INTEROP_SERVICE: tsName, ...env }, 30_000, world!.go.launch);

    it("Go Micro lists the ts-micro service with its endpoints and mucp node metadata", async () => {
      // A registration may take a moment to show (mDNS answers are collected for 100 ms).
      let result: ListResult = { services: [] };
      await waitFor(
        async () => {
          result = await goClient({ INTEROP_MODE: "list" });
          return result.services.includes(tsName) && result.services.includes(goName);
        },
        5_000,
        200,
      );
      assert.ok(result.services.includes(tsName), `Go Micro sees ${result.services.join(", ")}`);
      assert.ok(result.services.includes(goName));
      const record = result.service?.[0];
      assert.deepEqual(record?.endpoints?.map((e) => e.name).sort(), ENDPOINTS);
      const node = record!.nodes[0];
      assert.equal(node.metadata?.protocol, "mucp");
      assert.equal(node.metadata?.server, "mucp");
      assert.equal(node.address, tsServer!.address);
    });

    it("ts-micro lists the Go Micro service with its endpoints", async () => {
      let names: string[] = [];
      await waitFor(
        async () => {
          names = await peer!.do<string[]>({ op: "list" });
          return names.includes(goName);
        },
        5_000,
        200,
      );
      assert.ok(names.includes(goName), `ts-micro sees ${names.join(", ")}`);
      const [record] = await peer!.do<ServiceRecord[]>({ op: "get", service: goName });
      assert.deepEqual(record.endpoints?.map((e) => e.name).sort(), ENDPOINTS);
      assert.equal(record.nodes[0].metadata?.transport, "http");
      assert.equal(record.nodes[0].address, goServer!.address);
      const call = record.endpoints!.find((e) => e.name === "Helloworld.Call")!;
      assert.deepEqual(
        call.request?.values?.map((v) => v.name),
        ["name"],
      );
    });

    it("Go Micro calls and streams from the ts-micro service by name", async () => {
      assert.deepEqual(await goClient({ INTEROP_NAME_ARG: "Grace" }), { msg: "Hello Grace from ts-micro" });
      assert.deepEqual(await goClient({ INTEROP_MODE: "stream", INTEROP_COUNT: "2" }), { stream: [{ count: 0 }, { count: 1 }] });
      const failed = await goClient({ INTEROP_NAME_ARG: "missing" });
      assert.deepEqual(failed.error, { id: "tshello", code: 404, detail: "no user called missing", status: "Not Found" });
    });

    it("ts-micro calls and streams from the Go Micro service by name, over HTTP chosen from its node metadata", async () => {
      assert.deepEqual(await peer!.do({ op: "call", service: goName, endpoint: "Helloworld.Call", body: { name: "Alan" } }), { msg: "Hello Alan" });
      assert.deepEqual(await peer!.do({ op: "stream", service: goName, endpoint: "Helloworld.Stream", body: { count: 3 } }), [
        { count: 0 },
        { count: 1 },
        { count: 2 },
      ]);
      const failed = await peer!.request({ op: "call", service: goName, endpoint: "Helloworld.Call", body: { name: "" } });
      assert.equal(failed.error?.name, "MicroError", JSON.stringify(failed));
      assert.deepEqual(
        { code: failed.error?.code, id: failed.error?.id, detail: failed.error?.detail },
        { code: 400, id: "helloworld", detail: "name is required" },
      );
    });

    it("ts-micro calls the ts-micro service by name over mux in the same client", async () => {
      assert.deepEqual(await peer!.do({ op: "call", service: tsName, endpoint: "Helloworld.Call", body: { name: "Edsger" } }), {
        msg: "Hello Edsger from ts-micro",
      });
    });

    it("sees the ts-micro service leave when it stops (deregistration reaches Go Micro)", async () => {
      await tsServer!.stop();
      const gone = await waitFor(async () => !(await goClient({ INTEROP_MODE: "list" })).services.includes(tsName), 5_000, 200);
      assert.ok(gone, "Go Micro still lists the stopped ts-micro service");
    });
  });
}

for (const kind of REGISTRY_KINDS) registrySuite(kind);
