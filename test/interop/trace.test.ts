/**
 * A Go Micro hop inside a trace: ts-micro A calls a plain Go Micro v5 service (interop/relay),
 * which calls ts-micro B with the context it was called with. Go Micro records no spans of its
 * own here, but it passes the metadata on, so B's span is a child of A's client span, in A's trace.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createClient } from "../../src/index.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { fixture, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { quiet } from "../setup/logger.js";
import { spansOf } from "../setup/traced-spans.js";
import { buildGoPrograms, type GoProcess, startGo } from "./go.js";

describe("a trace through a Go Micro service", () => {
  const dir = tempRegistry();
  const registry = new LocalRegistry({ path: dir });
  const client = createClient({ registry, logger: quiet });
  const processes: ServiceProcess[] = [];
  let relay: GoProcess | undefined;
  after(async () => {
    stopAll(processes);
    await relay?.stop();
    await client.close();
    await registry.close();
  });

  it("ts-micro → Go Micro → ts-micro stays one trace, B's span the child of A's call", async () => {
    await buildGoPrograms();
    const env = { MICRO_REGISTRY_ADDRESS: dir, MICRO_TRACING: "1" };
    const back = await startProcess(fixture("traced-service"), { ...env, ROLE: "back" });
    processes.push(back);
    relay = await startGo("relay", { INTEROP_SERVICE: "traced-back", INTEROP_ENDPOINT: "Back.Work", INTEROP_ADDRESS: back.address });
    const relayAddress = relay.address.replace(/^\[::\]|^0\.0\.0\.0/, "127.0.0.1");
    // Go Micro speaks its HTTP transport: A uses it too, to reach the relay by address.
    const front = await startProcess(fixture("traced-service"), {
      ...env,
      ROLE: "front",
      MICRO_TRANSPORT: "http",
      VIA_SERVICE: "relay",
      VIA_ENDPOINT: "Relay.Call",
      VIA_ADDRESS: relayAddress,
      NO_PUBLISH: "1",
    });
    processes.push(front);

    assert.deepEqual(await client.call("traced-front", "Front.Go", {}), { done: true });
    const [a, b] = await Promise.all([spansOf(front), spansOf(back)]);
    const root = a.find((s) => s.name === "Front.Go");
    const call = a.find((s) => s.name === "Relay.Call");
    assert.ok(root && call, JSON.stringify(a));
    assert.equal(call.parentSpanId, root.spanId);
    const served = b.find((s) => s.name === "Back.Work");
    assert.ok(served, JSON.stringify(b));
    assert.equal(served.traceId, root.traceId, "one trace across the Go Micro hop");
    assert.equal(served.parentSpanId, call.spanId);
  });
});
