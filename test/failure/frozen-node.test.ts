/**
 * A frozen node under load: three service processes, a steady stream of calls from a client with
 * default options, and one node SIGSTOPped for 8 s (its connections stay open, so only its silence
 * gives it away), then SIGCONTed.
 *
 * The load is open: a call starts every TICK_MS, half of them idempotent, with at most
 * MAX_IN_FLIGHT in flight (bounded), so calls stuck on the frozen node take the load's room
 * until the client stops sending to that node and lets idempotent calls retry elsewhere.
 * Asserted: calls keep completing throughout (the longest gap between two completions stays under
 * a second, where a client that keeps choosing the frozen node fills its room with stuck calls and
 * completes none until the node resumes); no idempotent call fails; at most a handful of the
 * others do.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createClient } from "../../src/index.js";
import { createLogger } from "../../src/logger/logger.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { fixture, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { waitFor } from "../setup/wait.js";

const TICK_MS = 20;
const MAX_IN_FLIGHT = 50;
const WARM_MS = 1_000;
const FROZEN_MS = 8_000;
const AFTER_MS = 1_000;
const MAX_GAP_MS = 1_000;
/**
 * Calls sent to the node before it is ejected (a quarter of the default attemptTimeout, 200 ms,
 * of silence, at ~8 non-idempotent calls a second to each node) may have run: they fail, not retried.
 */
const HANDFUL = 8;
const quiet = createLogger({ level: "silent" });

interface Tally {
  completions: number[];
  failures: { idempotent: number; other: number };
  reasons: string[];
}

describe("a frozen node under load", () => {
  const dir = tempRegistry();
  const env = { MICRO_REGISTRY_ADDRESS: dir, MICRO_REGISTER_TTL: "30", MICRO_REGISTER_INTERVAL: "5" };
  const registry = new LocalRegistry({ path: dir });
  const client = createClient({ registry, logger: quiet });
  const processes: ServiceProcess[] = [];
  after(async () => {
    for (const p of processes) p.child.kill("SIGCONT");
    stopAll(processes);
    await client.close();
  });

  it("is routed around: calls keep completing, idempotent ones never fail, others fail at most a handful of times", async () => {
    processes.push(...(await Promise.all([0, 1, 2].map(() => startProcess(fixture("echo-service"), { ...env, SERVICE_NAME: "frozen" })))));
    const seen = new Set<string>();
    const ready = await waitFor(
      async () => {
        const answer = await client.call<{ node: string }>("frozen", "Echo.Echo", {}).catch(() => undefined);
        if (answer) seen.add(answer.node);
        return seen.size === 3;
      },
      10_000,
      1,
    );
    assert.ok(ready, `the client reached all three nodes (saw ${seen.size})`);

    const tally: Tally = { completions: [], failures: { idempotent: 0, other: 0 }, reasons: [] };
    const inFlight = new Set<Promise<void>>();
    let n = 0;
    const started = Date.now();
    const tick = setInterval(() => {
      if (inFlight.size >= MAX_IN_FLIGHT) return;
      const idempotent = n++ % 2 === 0;
      const call: Promise<void> = client.call("frozen", "Echo.Echo", { n }, { idempotent }).then(
        () => void tally.completions.push(Date.now()),
        (err: unknown) => {
          tally.failures[idempotent ? "idempotent" : "other"]++;
          if (tally.reasons.length < 10) tally.reasons.push(`at ${Date.now() - started} ms: ${(err as Error).message}`);
        },
      );
      inFlight.add(call);
      void call.finally(() => inFlight.delete(call));
    }, TICK_MS);

    const victim = processes[0];
    try {
      await sleep(WARM_MS);
      victim.child.kill("SIGSTOP");
      await sleep(FROZEN_MS);
      victim.child.kill("SIGCONT");
      await sleep(AFTER_MS);
    } finally {
      clearInterval(tick);
      victim.child.kill("SIGCONT");
    }
    const stopped = Date.now();
    await Promise.all(inFlight); // bounded: the resumed node answers what waited on it, at worst the 30 s call timeout

    const during = tally.completions.filter((t) => t <= stopped);
    let longestGap = 0;
    let previous = started;
    for (const t of [...during, stopped]) {
      longestGap = Math.max(longestGap, t - previous);
      previous = t;
    }
    const figures = `${during.length} calls completed in ${stopped - started} ms, longest gap ${longestGap} ms, failures: ${JSON.stringify(tally.failures)} (load started at 0 ms, node frozen at ${WARM_MS} ms) ${tally.reasons.join("; ")}`;
    process.stderr.write(`frozen node: ${figures}\n`);
    assert.ok(longestGap <= MAX_GAP_MS, `calls kept completing while a node was frozen: ${figures}`);
    assert.equal(tally.failures.idempotent, 0, `no idempotent call failed: ${figures}`);
    assert.ok(tally.failures.other <= HANDFUL, `at most ${HANDFUL} other calls failed: ${figures}`);
  });

  it("does not stall callers that only make non-idempotent calls, each waiting for its last", async () => {
    // Closed loops: a caller stuck on the frozen node makes no further calls, so nothing retries
    // around it. The client pings a node that went silent while others answered; the frozen node
    // cannot answer, so its connection fails and the stuck calls with it (one per caller: they
    // may have run, so they are not retried), and the callers carry on with the other nodes.
    const CALLERS = 6;
    const completions: number[] = [];
    let failures = 0;
    let stop = false;
    const caller = async (): Promise<void> => {
      while (!stop) {
        try {
          await client.call("frozen", "Echo.Echo", {});
          completions.push(Date.now());
        } catch {
          failures++;
        }
      }
    };
    const started = Date.now();
    const callers = Array.from({ length: CALLERS }, caller);
    const victim = processes[1];
    try {
      await sleep(WARM_MS);
      victim.child.kill("SIGSTOP");
      await sleep(FROZEN_MS / 2);
      victim.child.kill("SIGCONT");
      await sleep(AFTER_MS);
    } finally {
      stop = true;
      victim.child.kill("SIGCONT");
    }
    const stopped = Date.now();
    await Promise.all(callers);
    let longestGap = 0;
    let previous = started;
    for (const t of [...completions.filter((t) => t <= stopped), stopped]) {
      longestGap = Math.max(longestGap, t - previous);
      previous = t;
    }
    const figures = `${completions.length} calls, longest gap ${longestGap} ms, ${failures} failed (${CALLERS} callers)`;
    process.stderr.write(`frozen node, closed loops: ${figures}\n`);
    assert.ok(longestGap <= MAX_GAP_MS, `callers kept completing calls while a node was frozen: ${figures}`);
    assert.ok(failures <= CALLERS, `at most one call per caller failed: ${figures}`);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
