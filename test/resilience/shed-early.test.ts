/**
 * A shed call is refused before its body is decoded: with every slot taken, a call whose body is
 * not JSON gets the 503 (with its Retry-After hint), not the 400 its body earns when there is
 * room, and the handler never runs for it. Metrics count it as a 503 of its endpoint.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Codec } from "../../src/codec/codec.js";
import { Codecs } from "../../src/codec/index.js";
import { createClient, createService, MicroError, RetryLaterError } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { quiet } from "../setup/logger.js";
import { until } from "../setup/wait.js";

/** JSON as bytes, sent as given: a malformed body reaches the server as it is. */
const rawJson: Codec = {
  contentType: "application/json",
  encode: (value) => value as Uint8Array,
  decode: (bytes) => bytes,
};

describe("load shedding before decoding", () => {
  it("answers a full server's call with 503 + Retry-After whatever its body, counts it, and runs nothing for it", async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let ran = 0;
    class Shed {
      async Hold(): Promise<void> {
        await held;
      }
      async Echo(req: unknown): Promise<unknown> {
        ran++;
        return req;
      }
    }
    const registry = new MemoryRegistry();
    const service = createService({
      name: "shedder",
      registry,
      logger: quiet,
      limits: { concurrency: 1, retryAfter: 2_000 },
      metrics: { processMetrics: false },
    });
    service.handle(new Shed());
    await service.start();
    const raw = createClient({ registry, logger: quiet, retries: 0, codecs: new Codecs().register(rawJson) });
    const garbage = Buffer.from("{not json");
    try {
      await assert.rejects(raw.call("shedder", "Shed.Echo", garbage), (err: unknown) => err instanceof MicroError && err.code === 400);
      const holding = raw.call("shedder", "Shed.Hold", Buffer.from("{}"));
      await until(() => service.limiter?.active === 1, 5_000, "the slot taken");
      await assert.rejects(raw.call("shedder", "Shed.Echo", garbage), (err: unknown) => {
        assert.ok(err instanceof RetryLaterError, String(err));
        assert.equal(err.code, 503);
        assert.equal(err.retryAfter, 2_000);
        return true;
      });
      assert.equal(service.limiter?.shed, 1);
      release();
      await holding;
      assert.equal(ran, 0, "the handler ran for neither call");
      const { body } = await service.metrics!.text();
      assert.match(body, /micro_server_requests_total\{endpoint="Shed\.Echo",code="503",service="shedder"\} 1/);
    } finally {
      release();
      await raw.close();
      await service.stop();
    }
  });
});
