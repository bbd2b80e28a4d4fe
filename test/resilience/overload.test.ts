/**
 * Overload: a deliberately slow server (4 calls at once, 4 waiting, 50 ms each: about 80 calls a
 * second) is offered about ten times that for 3 s. Calls beyond what it can take are refused at
 * once with a 503 carrying a Retry-After hint; the calls it accepts complete; its memory stays
 * bounded and it keeps serving. Latency is not asserted here: `npm run bench:overload` measures it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MicroError, RetryLaterError } from "../../src/errors/errors.js";
import { createClient } from "../../src/service/create-client.js";
import { type Started, startSlow } from "./harness.js";

describe("overload: load shedding with a concurrency limit and a bounded queue", () => {
  let server: Started;
  let client: ReturnType<typeof createClient>;

  before(async () => {
    server = await startSlow({ MICRO_SERVER_CONCURRENCY: "4", MICRO_SERVER_QUEUE: "4", SLOW_MS: "50" });
    process.env.MICRO_REGISTRY = "local";
    process.env.MICRO_REGISTRY_ADDRESS = server.registry;
    client = createClient({ retries: 0, timeout: 10_000 });
  });
  after(async () => {
    await client?.close();
    await server?.stop();
  });

  it("sheds what it cannot take with 503 + Retry-After, completes the rest, stays bounded and alive", async () => {
    const before = await client.call<{ rss: number }>("slow", "Slow.Stats", {});
    const perTick = 8; // every 10 ms: ~800 calls a second offered, ~10x the server's capacity
    const ticks = 300; // 3 s
    const outcomes: Promise<"ok" | "shed" | string>[] = [];
    for (let t = 0; t < ticks; t++) {
      for (let i = 0; i < perTick; i++) {
        outcomes.push(
          client.call<{ ok: boolean }>("slow", "Slow.Work", {}).then(
            (res) => (res.ok ? "ok" : `bad answer ${JSON.stringify(res)}`),
            (err: unknown) => {
              if (err instanceof RetryLaterError && err.code === 503 && err.retryAfter >= 1_000) return "shed";
              return `unexpected error: ${err instanceof MicroError ? `${err.code} ${err.detail}` : String(err)}`;
            },
          ),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const results = await Promise.all(outcomes);
    const ok = results.filter((r) => r === "ok").length;
    const shed = results.filter((r) => r === "shed").length;
    const other = results.filter((r) => r !== "ok" && r !== "shed");
    assert.deepEqual(other.slice(0, 5), [], `every call either completed or was shed with a Retry-After hint (${other.length} others)`);
    assert.ok(ok > 0, "the server completed calls while overloaded");
    assert.ok(shed > ok, `most of the offered calls were shed (ok ${ok}, shed ${shed})`);
    const afterwards = await client.call<{ rss: number; shed: number; calls: Record<string, number> }>("slow", "Slow.Stats", {});
    assert.equal(afterwards.shed, shed, "the server counted the calls it shed");
    assert.equal(afterwards.calls.Work, ok, "the handler ran exactly for the accepted calls");
    const growth = afterwards.rss - before.rss;
    assert.ok(growth < 150 * 1024 * 1024, `RSS grew by ${Math.round(growth / 1024 / 1024)} MiB (bound 150 MiB)`);
    assert.equal(server.child.exitCode, null, "the server is still running");
    const health = await client.call<{ status: string }>("slow", "Debug.Health", {});
    assert.equal(health.status, "ok", "health probes are never shed");
  });

  it("sends the Retry-After hint as a header over Go Micro's HTTP transport too", async () => {
    // Fill every slot and the queue with long calls, then ask over HTTP/mucp.
    const long = Array.from({ length: 8 }, () => client.call("slow", "Slow.Work", { ms: 1_500 }).catch(() => undefined));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const res = await fetch(`http://${server.address}/`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Micro-Service": "slow", "Micro-Endpoint": "Slow.Work", "Micro-Method": "Slow.Work" },
      body: "{}",
    });
    await res.arrayBuffer();
    await Promise.all(long);
    const error = res.headers.get("micro-error") ?? "";
    assert.equal(MicroError.parse(error).code, 503, `refused with a 503 in Micro-Error (got ${JSON.stringify(error)})`);
    assert.equal(res.headers.get("retry-after"), "1", "Retry-After in seconds");
  });
});
