/**
 * Streaming RPC end to end in one process over real mux connections.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Greeter, greeterEndpoints } from "../../examples/greeter/greeter.js";
import { type Context, createClient, createService, MicroError, roundRobin } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { quiet } from "../setup/logger.js";
import { collect } from "../setup/streams.js";
import { waitFor } from "../setup/wait.js";

class Probe {
  produced = 0;
  finished = 0;
  lastSignalAborted = false;

  async *Ticker(_req: unknown, ctx: Context): AsyncIterable<{ i: number }> {
    try {
      for (let i = 0; ; i++) {
        this.produced++;
        yield { i };
      }
    } finally {
      this.finished++;
      this.lastSignalAborted = ctx.signal.aborted;
    }
  }

  async *FailAfter(req: { n: number }): AsyncIterable<{ i: number }> {
    for (let i = 0; i < req.n; i++) yield { i };
    throw MicroError.conflict("probe", `stopped after ${req.n}`);
  }

  /** Reads three messages of a client stream and stops reading. */
  async TakeThree(input: AsyncIterable<{ i: number }>): Promise<{ got: number[] }> {
    const got: number[] = [];
    for await (const { i } of input) if (got.push(i) === 3) break;
    return { got };
  }

  async *Crash(): AsyncIterable<{ i: number }> {
    yield { i: 0 };
    throw new Error("internal detail that must not leak");
  }
}

async function* numbers(...ns: number[]): AsyncIterable<{ n: number }> {
  for (const n of ns) yield { n };
}

describe("streaming rpc", () => {
  const registry = new MemoryRegistry();
  const probe = new Probe();
  const service = createService({ name: "streams", registry, logger: quiet });
  service.handle(new Greeter(), { endpoints: greeterEndpoints });
  service.handle(probe);
  const client = createClient({ registry, logger: quiet });
  const greeter = client.service<{ Greeter: Greeter }>("streams").Greeter;
  const probes = client.service<{ Probe: Probe }>("streams").Probe;

  before(() => service.start());
  after(async () => {
    client.close();
    await service.stop();
    await registry.close();
  });

  it("marks stream endpoints in the registry", async () => {
    const [record] = await registry.getService("streams");
    const streamFlag = (name: string): string | undefined => record.endpoints?.find((e) => e.name === name)?.metadata?.stream;
    assert.equal(streamFlag("Greeter.Count"), "true");
    assert.equal(streamFlag("Greeter.Echo"), "true");
    assert.equal(streamFlag("Greeter.Sum"), "true");
    assert.equal(streamFlag("Greeter.Hello"), undefined);
  });

  it("server stream: iterates the responses", async () => {
    assert.deepEqual(await collect(greeter.Count({ to: 3 })), [{ n: 1 }, { n: 2 }, { n: 3 }]);
    assert.deepEqual(await collect(greeter.Count({ to: 0 })), []);
  });

  it("client stream: sends a stream and awaits the one response", async () => {
    assert.deepEqual(await greeter.Sum(numbers(1, 2, 3, 4)), { total: 10 });
    assert.deepEqual(await greeter.Sum(numbers()), { total: 0 });
  });

  it("bidirectional stream: each message comes back as it is sent", async () => {
    const sent: string[] = [];
    let release: () => void = () => {};
    async function* talk(): AsyncIterable<{ text: string }> {
      for (const text of ["a", "b", "c"]) {
        sent.push(text);
        yield { text };
        await new Promise<void>((resolve) => (release = resolve)); // next only after the echo
      }
    }
    const got: string[] = [];
    for await (const { text } of greeter.Echo(talk())) {
      got.push(text);
      assert.deepEqual(sent, got, "the echo arrived before the next message was sent");
      release();
    }
    assert.deepEqual(got, ["a", "b", "c"]);
  });

  it("untyped client.stream works too", async () => {
    assert.deepEqual(await collect(client.stream("streams", "Greeter.Count", { to: 2 })), [{ n: 1 }, { n: 2 }]);
  });

  it("breaking out of for await cancels the producer within a bounded number of messages", async () => {
    const before = probe.finished;
    let received = 0;
    for await (const _ of probes.Ticker({})) if (++received === 5) break;
    const ended = await waitFor(() => probe.finished > before, 2_000);
    assert.ok(ended, "the generator's finally ran");
    assert.equal(probe.lastSignalAborted, true, "the handler's ctx.signal fired");
    // The producer can only run ahead by what fits in the stream window (1 MiB of ~80-byte messages).
    assert.ok(probe.produced < 20_000, `produced ${probe.produced}`);
  });

  it("a server that stops reading a client stream stops the client's producer", async () => {
    let produced = 0;
    let finished = false;
    async function* endless(): AsyncIterable<{ i: number }> {
      try {
        for (let i = 0; ; i++) {
          produced++;
          yield { i };
        }
      } finally {
        finished = true;
      }
    }
    assert.deepEqual(await probes.TakeThree(endless()), { got: [0, 1, 2] });
    assert.ok(await waitFor(() => finished, 2_000), "the client's generator was returned");
    assert.ok(produced < 20_000, `produced ${produced}: bounded by the stream window`);
  });

  it("aborting the caller's signal cancels the stream", async () => {
    const controller = new AbortController();
    const before = probe.finished;
    await assert.rejects(
      (async () => {
        let n = 0;
        for await (const _ of probes.Ticker({}, { signal: controller.signal })) if (++n === 3) controller.abort();
      })(),
      (err: unknown) => err instanceof MicroError && err.code === 499,
    );
    assert.ok(await waitFor(() => probe.finished > before, 2_000));
  });

  it("a handler's MicroError ends the stream after the messages before it", async () => {
    const got: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const { i } of probes.FailAfter({ n: 3 })) got.push(i);
      })(),
      (err: unknown) => err instanceof MicroError && err.code === 409 && err.detail === "stopped after 3",
    );
    assert.deepEqual(got, [0, 1, 2]);
  });

  it("any other throw ends the stream with a 500 that leaks nothing", async () => {
    await assert.rejects(collect(probes.Crash()), (err: unknown) => err instanceof MicroError && err.code === 500 && err.detail === "internal server error");
  });

  it("the deadline covers the whole stream", async () => {
    const got: number[] = [];
    const started = Date.now();
    await assert.rejects(
      (async () => {
        for await (const { n } of greeter.Count({ to: 100, delayMs: 50 }, { timeout: 300 })) got.push(n);
      })(),
      (err: unknown) => err instanceof MicroError && err.code === 408,
    );
    assert.ok(got.length > 0 && got.length < 100, `received ${got.length} before the deadline`);
    assert.ok(Date.now() - started < 2_000);
  });

  it("opens a stream on another node when the chosen one is unreachable", async () => {
    const dead = {
      name: "streams",
      version: "dead",
      metadata: null,
      endpoints: null,
      nodes: [{ id: "streams-dead", address: "127.0.0.1:1", metadata: { transport: "mux" } }],
    };
    await registry.register(dead);
    try {
      const rr = createClient({ registry, logger: quiet, strategy: roundRobin() });
      for (let i = 0; i < 4; i++)
        assert.deepEqual(await collect(rr.service<{ Greeter: Greeter }>("streams").Greeter.Count({ to: 2 }, { retries: 1 })), [{ n: 1 }, { n: 2 }]);
      assert.equal(rr.selector.isEjected("127.0.0.1:1"), true, "the dead node was tried and ejected");
      rr.close();
    } finally {
      await registry.deregister(dead);
    }
  });

  it("unknown stream endpoints and unary calls to streams get clear errors", async () => {
    await assert.rejects(collect(client.stream("streams", "Greeter.Nope", {})), (err: unknown) => err instanceof MicroError && err.code === 404);
    await assert.rejects(
      client.call("streams", "Greeter.Count", { to: 1 }),
      (err: unknown) => err instanceof MicroError && err.code === 400 && /is a stream/.test(err.detail),
    );
  });
});
