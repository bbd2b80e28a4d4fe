/**
 * Fuzzing the mux server port (issue 12): a few thousand seeded cases of generated and mutated
 * frames against a server in its own process. After every batch the server must still be up and
 * answer a normal call; at the end its memory must not have grown beyond a generous bound.
 * `MICRO_FUZZ_SEED` and `MICRO_FUZZ_CASES` change the run; a failure names the seed and batch
 * (mux-long.ts runs longer).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { MicroHeader } from "../../src/metadata/headers.js";
import { MuxTransport } from "../../src/transport/mux/mux.js";
import { recordingLogger } from "../setup/logger.js";
import { serverProcess } from "../transport/mux-peer.js";
import { FUZZ_SERVER_OPTIONS, runCases } from "./mux-fuzz.js";

const seed = Number(process.env.MICRO_FUZZ_SEED ?? 20261130);
const cases = Number(process.env.MICRO_FUZZ_CASES ?? 5_000);
const BATCH = 500;
const MiB = 1024 * 1024;

describe("mux fuzzing", () => {
  const stops: Array<() => void> = [];
  after(() => {
    for (const stop of stops) stop();
  });

  it(`survives ${cases} generated and mutated connections (seed ${seed}) and still serves`, async () => {
    const server = await serverProcess(FUZZ_SERVER_OPTIONS);
    stops.push(server.stop);
    const client = new MuxTransport({ logger: recordingLogger([]) });
    const normalCall = async (): Promise<void> => {
      const conn = await client.dial(server.address);
      try {
        const rsp = await conn.call({ header: { [MicroHeader.Endpoint]: "Echo.Echo" }, body: Buffer.from("still here") }, { deadline: Date.now() + 5_000 });
        assert.equal(Buffer.from(rsp.body).toString(), "still here");
      } finally {
        conn.close();
      }
    };
    await normalCall();
    const before = server.rss();
    let peak = before;
    for (let from = 0; from < cases; from += BATCH) {
      await runCases(server.address, seed, from, Math.min(cases, from + BATCH));
      assert.ok(server.alive(), `the server process died during cases ${from}..${from + BATCH - 1} of seed ${seed}`);
      await normalCall();
      peak = Math.max(peak, server.rss());
    }
    process.stderr.write(`mux fuzz: ${cases} cases, seed ${seed}; server RSS ${(before / MiB).toFixed(0)} MiB -> peak ${(peak / MiB).toFixed(0)} MiB\n`);
    assert.ok(peak - before < 100 * MiB, `server RSS grew by ${((peak - before) / MiB).toFixed(0)} MiB`);
  });
});
