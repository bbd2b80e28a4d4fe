/**
 * Go Micro and ts-micro services sharing one registry: each side lists the other's services and
 * endpoints, and calls it by name. A ts-micro client picks the transport per node by itself: HTTP
 * for the Go Micro node, mux for the ts-micro one. Runs against the real NATS server on the
 * machine (NATS_URL, default nats://127.0.0.1:4222) with Go Micro's `registry/nats`.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { createClient, MicroError } from "../../src/index.js";
import { NatsRegistry } from "../../src/registry/nats.js";
import type { Service } from "../../src/registry/registry.js";
import { fixture, type ServiceProcess, startProcess, stopAll, waitFor } from "../process/harness.js";
import { type GoProcess, runGo, startGo } from "./go.js";

const natsUrl = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const natsHostPort = natsUrl.replace(/^nats:\/\//, "");

async function reachable(hostPort: string): Promise<boolean> {
  const [host, port] = [hostPort.slice(0, hostPort.lastIndexOf(":")), Number(hostPort.slice(hostPort.lastIndexOf(":") + 1))];
  return new Promise((resolve) => {
    const socket = net.connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

interface ListResult {
  services: string[];
  service?: Service[];
  error?: string;
}

describe("shared NATS registry: Go Micro and ts-micro find and call each other", () => {
  const id = randomUUID().slice(0, 8);
  const goName = `gohello-${id}`;
  const tsName = `tshello-${id}`;
  // Both sides listen on loopback so that what they register is reachable on this host only.
  const registryEnv = { MICRO_REGISTRY: "nats", MICRO_REGISTRY_ADDRESS: natsHostPort, MICRO_SERVER_ADDRESS: "127.0.0.1:0" };
  let goServer: GoProcess | undefined;
  let tsServer: ServiceProcess | undefined;
  const registry = new NatsRegistry({ servers: natsUrl });
  const client = createClient({ registry, retries: 0 });

  before(async () => {
    if (!(await reachable(natsHostPort))) {
      throw new Error(`no NATS server at ${natsUrl}: start one with \`nats-server -a 127.0.0.1 -p 4222 -js\` (or set NATS_URL)`);
    }
    goServer = await startGo("helloworld", { ...registryEnv, INTEROP_NAME: goName });
    tsServer = await startProcess(fixture("../interop/ts-helloworld"), { ...registryEnv, INTEROP_NAME: tsName });
  });
  after(async () => {
    client.close();
    await registry.close();
    stopAll([tsServer]);
    await goServer?.stop();
  });

  const goClient = (env: Record<string, string>): Promise<ListResult & { msg?: string; stream?: unknown[]; error?: unknown }> =>
    runGo("client", { ...registryEnv, INTEROP_SERVICE: tsName, ...env });

  it("Go Micro lists the ts-micro service with its endpoints and mucp node metadata", async () => {
    const result = await goClient({ INTEROP_MODE: "list" });
    assert.ok(result.services.includes(tsName), `Go Micro sees ${result.services.join(", ")}`);
    assert.ok(result.services.includes(goName));
    const record = result.service?.[0];
    assert.deepEqual(record?.endpoints?.map((e) => e.name), ["Helloworld.Call", "Helloworld.Echo", "Helloworld.Stream"]);
    const node = record!.nodes[0];
    assert.equal(node.metadata?.protocol, "mucp");
    assert.equal(node.metadata?.server, "mucp");
    assert.equal(node.address, tsServer!.address);
  });

  it("ts-micro lists the Go Micro service with its endpoints", async () => {
    assert.ok((await registry.listServices()).some((s) => s.name === goName));
    const [record] = await registry.getService(goName);
    assert.deepEqual(record.endpoints?.map((e) => e.name).sort(), ["Helloworld.Call", "Helloworld.Echo", "Helloworld.Stream"]);
    assert.equal(record.nodes[0].metadata?.transport, "http");
    const call = record.endpoints!.find((e) => e.name === "Helloworld.Call")!;
    assert.deepEqual(call.request?.values?.map((v) => v.name), ["name"]);
  });

  it("Go Micro calls and streams from the ts-micro service by name", async () => {
    assert.deepEqual(await goClient({ INTEROP_NAME_ARG: "Grace" }), { msg: "Hello Grace from ts-micro" });
    assert.deepEqual(await goClient({ INTEROP_MODE: "stream", INTEROP_COUNT: "2" }), { stream: [{ count: 0 }, { count: 1 }] });
    const failed = await goClient({ INTEROP_NAME_ARG: "missing" });
    assert.equal((failed.error as { code?: number } | undefined)?.code, 404);
  });

  it("ts-micro calls and streams from the Go Micro service by name, over HTTP chosen from its node metadata", async () => {
    assert.deepEqual(await client.call(goName, "Helloworld.Call", { name: "Alan" }), { msg: "Hello Alan" });
    const got: unknown[] = [];
    for await (const m of client.stream(goName, "Helloworld.Stream", { count: 3 })) got.push(m);
    assert.deepEqual(got, [{ count: 0 }, { count: 1 }, { count: 2 }]);
    await assert.rejects(client.call(goName, "Helloworld.Call", { name: "" }), (err: unknown) => err instanceof MicroError && err.code === 400 && err.id === "helloworld");
  });

  it("ts-micro calls the ts-micro service by name over mux in the same client", async () => {
    assert.deepEqual(await client.call(tsName, "Helloworld.Call", { name: "Edsger" }), { msg: "Hello Edsger from ts-micro" });
  });

  it("sees the ts-micro service leave when it stops (deregistration reaches Go Micro)", async () => {
    tsServer!.child.kill("SIGTERM");
    const gone = await waitFor(async () => !(await goClient({ INTEROP_MODE: "list" })).services.includes(tsName), 5_000, 200);
    assert.ok(gone, "Go Micro still lists the stopped ts-micro service");
  });
});
