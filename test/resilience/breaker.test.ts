/**
 * The client circuit breaker, per node and endpoint, against a real service process: it opens on
 * a dead node (calls then fail fast, naming the open circuit, and nothing is sent), admits a trial
 * once the node is back and closes when the trial succeeds; an endpoint failing on a live node
 * opens only that endpoint's circuit.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MicroError, RetryLaterError } from "../../src/errors/errors.js";
import { createService, type Service } from "../../src/service/service.js";
import { waitFor } from "../setup/wait.js";
import { type Started, startSlow } from "./harness.js";

describe("circuit breaker per node and endpoint", () => {
  let server: Started;
  let caller: Service;
  const openFor = 300;

  before(async () => {
    server = await startSlow();
    caller = createService({
      name: "breaker-caller",
      client: { retries: 0, breaker: { failures: 3, openFor }, timeout: 5_000 },
    });
  });
  after(async () => {
    await caller?.client.close();
    await server?.stop();
  });

  const call = (endpoint: string, address = server.address) => caller.client.call("slow", endpoint, {}, { address });
  const outcome = (p: Promise<unknown>): Promise<unknown> =>
    p.then(
      () => "ok",
      (err: unknown) => err,
    );

  it("opens one endpoint's circuit on a live node that keeps failing it, leaving its other endpoints alone", async () => {
    await caller.client.call("slow", "Slow.Toggle", { failing: true }, { address: server.address });
    for (let i = 0; i < 3; i++) {
      const err = await outcome(call("Slow.Flaky"));
      assert.ok(err instanceof MicroError && err.code === 500, `attempt ${i + 1} reached the node and failed: ${String(err)}`);
    }
    assert.equal(caller.breaker!.state(server.address, "Slow.Flaky"), "open");
    const fast = await outcome(call("Slow.Flaky"));
    assert.ok(fast instanceof RetryLaterError && fast.code === 503 && /circuit open/.test(fast.detail), `failed fast: ${String(fast)}`);
    assert.equal(await outcome(call("Slow.Limited")), "ok", "another endpoint of the node still works");
    const stats = await caller.client.call<{ calls: Record<string, number> }>("slow", "Slow.Stats", {}, { address: server.address });
    assert.equal(stats.calls.Flaky, 3, "the call refused by the open circuit never reached the node");
    // The endpoint recovers: after openFor one trial goes through, succeeds, and closes the circuit.
    await caller.client.call("slow", "Slow.Toggle", { failing: false }, { address: server.address });
    assert.ok(await waitFor(() => caller.breaker!.state(server.address, "Slow.Flaky") === "half-open", 5_000), "half-open after openFor");
    assert.equal(await outcome(call("Slow.Flaky")), "ok");
    assert.equal(caller.breaker!.state(server.address, "Slow.Flaky"), "closed");
  });

  it("opens on a dead node and closes when it comes back", async () => {
    const address = server.address;
    assert.equal(await outcome(call("Slow.Work")), "ok");
    await server.stop();
    for (let i = 0; i < 3; i++) await outcome(call("Slow.Work"));
    assert.equal(caller.breaker!.state(address, "Slow.Work"), "open", "three failed attempts on the dead node opened the circuit");
    const fast = await outcome(call("Slow.Work"));
    assert.ok(fast instanceof RetryLaterError && /circuit open/.test(fast.detail), `failed fast while open: ${String(fast)}`);
    // The node comes back on the same address.
    server = await startSlow({ MICRO_SERVER_ADDRESS: address }, server.registry);
    assert.ok(await waitFor(() => caller.breaker!.state(address, "Slow.Work") !== "open", 10_000), "half-open after its open period");
    let recovered = false;
    for (let i = 0; i < 50 && !recovered; i++) {
      recovered = (await outcome(call("Slow.Work", address))) === "ok";
      if (!recovered) await new Promise((resolve) => setTimeout(resolve, openFor));
    }
    assert.ok(recovered, "a trial call succeeded once the node was back");
    assert.equal(caller.breaker!.state(address, "Slow.Work"), "closed", "the successful trial closed the circuit");
  });
});
