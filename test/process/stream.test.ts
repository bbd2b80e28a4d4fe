/**
 * Streams between processes: each kind, backpressure against a 1 GiB producer, 1,000 concurrent
 * streams on one connection, a node killed mid-stream, and the CLI.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Greeter } from "../../examples/greeter/greeter.js";
import { createClient, MicroError } from "../../src/index.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { quiet } from "../setup/logger.js";
import { fixture, runCli, type ServiceProcess, startProcess, stopAll, tempRegistry } from "./harness.js";

async function* numbers(...ns: number[]): AsyncIterable<{ n: number }> {
  for (const n of ns) yield { n };
}

describe("streams between processes", () => {
  const dir = tempRegistry();
  const env = { MICRO_REGISTRY_ADDRESS: dir };
  const registry = new LocalRegistry({ path: dir });
  const client = createClient({ registry, logger: quiet });
  const greeter = client.service<{ Greeter: Greeter }>("streamer").Greeter;
  let server: ServiceProcess;
  const extra: ServiceProcess[] = [];

  before(async () => {
    server = await startProcess(fixture("stream-service"), env);
  });
  after(async () => {
    stopAll([server, ...extra]);
    client.close();
    await registry.close();
  });

  it("runs server, client and bidirectional streams", async () => {
    const counted: number[] = [];
    for await (const { n } of greeter.Count({ to: 5 })) counted.push(n);
    assert.deepEqual(counted, [1, 2, 3, 4, 5]);
    assert.deepEqual(await greeter.Sum(numbers(10, 20, 30)), { total: 60 });
    const echoed: string[] = [];
    for await (const { text } of greeter.Echo(
      (async function* () {
        yield* ["x", "y"].map((text) => ({ text }));
      })(),
    ))
      echoed.push(text);
    assert.deepEqual(echoed, ["x", "y"]);
  });

  it("keeps the producer's memory bounded against a slow consumer of 1 GiB", async (t) => {
    const rss = async (): Promise<number> => (await client.call<{ rss: number }>("streamer", "Bulk.Memory", {})).rss;
    const baseline = await rss();
    const size = 64 * 1024;
    const count = 16 * 1024; // 1 GiB in all
    const request = Buffer.from(JSON.stringify({ size, count }));
    let received = 0;
    let bytes = 0;
    let peak = 0;
    for await (const chunk of client.stream<Uint8Array>("streamer", "Bulk.Produce", request, { contentType: "application/octet-stream" })) {
      received++;
      bytes += chunk.length;
      if (received <= 100) await new Promise((r) => setTimeout(r, 10)); // read slowly for a while
      if (received === 100 || received % 4096 === 0) peak = Math.max(peak, (await rss()) - baseline);
    }
    assert.equal(received, count);
    assert.equal(bytes, size * count);
    t.diagnostic(`server RSS growth while streaming 1 GiB: ${(peak / 1048576).toFixed(1)} MiB`);
    // Unbounded buffering would hold hundreds of MiB while the consumer dawdles. With flow control
    // the server holds one 1 MiB window per stream plus socket buffers; 96 MiB leaves room for V8
    // heap growth and GC timing while still failing by an order of magnitude if the window leaks.
    assert.ok(peak < 96 * 1024 * 1024, `server RSS grew by ${(peak / 1048576).toFixed(1)} MiB`);
  });

  it("runs 1,000 concurrent streams over one connection, each in order", async () => {
    const results = await Promise.all(
      Array.from({ length: 1_000 }, async () => {
        const got: number[] = [];
        for await (const { n } of greeter.Count({ to: 20 })) got.push(n);
        return got;
      }),
    );
    const expected = Array.from({ length: 20 }, (_, i) => i + 1);
    for (const got of results) assert.deepEqual(got, expected);
  });

  it("gives a clear error, not a hang, when the node dies mid-stream", async () => {
    const victim = await startProcess(fixture("stream-service"), { ...env, SERVICE_NAME: "doomed" });
    extra.push(victim);
    const doomed = client.service<{ Greeter: Greeter }>("doomed").Greeter;
    let received = 0;
    const started = Date.now();
    await assert.rejects(
      (async () => {
        for await (const _ of doomed.Count({ to: 10_000, delayMs: 10 })) if (++received === 5) victim.child.kill("SIGKILL");
      })(),
      (err: unknown) => err instanceof MicroError && err.code === 503 && /connection/.test(err.detail),
    );
    assert.ok(received >= 5);
    assert.ok(Date.now() - started < 5_000, "failed promptly");
  });

  it("micro stream prints each message as a JSON line, and streams stdin for client streams", async () => {
    const count = await runCli(["stream", "streamer", "Greeter.Count", '{"to":3}'], env);
    assert.equal(count.code, 0, count.stderr);
    assert.equal(count.stdout, '{"n":1}\n{"n":2}\n{"n":3}\n');
    const sum = await runCli(["stream", "streamer", "Greeter.Sum"], env, 15_000, '{"n":1}\n{"n":2}\n\n{"n":39}\n');
    assert.equal(sum.code, 0, sum.stderr);
    assert.equal(sum.stdout, '{"total":42}\n');
    const echo = await runCli(["stream", "streamer", "Greeter.Echo"], env, 15_000, '{"text":"a"}\n{"text":"b"}\n');
    assert.equal(echo.stdout, '{"text":"a"}\n{"text":"b"}\n');
    const dash = await runCli(["stream", "streamer", "Greeter.Sum", "-"], env, 15_000, '{"n":2}\n{"n":5}\n');
    assert.equal(dash.stdout, '{"total":7}\n', dash.stderr);
    const bad = await runCli(["stream", "streamer", "Greeter.Count", '{"to":-1}'], env);
    assert.equal(bad.code, 1);
    assert.equal(JSON.parse(bad.stderr).code, 400);
  });
});
