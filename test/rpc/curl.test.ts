/**
 * What docs/handlers.md promises to a caller without ts-micro: a service on the default transport
 * answers Go Micro's HTTP transport (here through fetch, as curl would), a result comes back as
 * 200 with the body, an error as 200 with an empty body and the error JSON in `Micro-Error`, and
 * `Timeout` is read as nanoseconds. Also handle()'s rules for plain objects and names.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Context, createService, MicroError } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { quiet } from "../setup/logger.js";

class Greeter {
  async Hello(req: { name: string }, ctx: Context): Promise<{ msg: string; trace?: string; leftMs?: number }> {
    if (!req.name) throw MicroError.badRequest("greeter", "name is required");
    const trace = ctx.metadata.get("x-trace-id");
    return { msg: `Hello ${req.name}`, ...(trace ? { trace } : {}), ...(ctx.deadline ? { leftMs: ctx.deadline - Date.now() } : {}) };
  }
  async *Count(req: { to: number }): AsyncIterable<{ n: number }> {
    for (let n = 1; n <= req.to; n++) yield { n };
  }
}

describe("calling a service over HTTP, as with curl", () => {
  const registry = new MemoryRegistry();
  const service = createService({ name: "greeter", registry, logger: quiet });
  service.handle(new Greeter());
  service.handle({ Ping: async () => ({ ok: true }) }, { name: "Health" });
  let url = "";

  before(async () => {
    await service.start();
    url = `http://${service.address}/`;
  });
  after(async () => {
    await service.stop();
    await registry.close();
  });

  const post = (headers: Record<string, string>, body: string): Promise<Response> => fetch(url, { method: "POST", headers, body });

  it("answers a call with 200 and the response body", async () => {
    const response = await post({ "Micro-Endpoint": "Greeter.Hello", "Content-Type": "application/json", "X-Trace-Id": "t-1" }, '{"name":"Ada"}');
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("micro-error"), null);
    assert.deepEqual(await response.json(), { msg: "Hello Ada", trace: "t-1" });
    const health = await post({ "Micro-Endpoint": "Health.Ping", "Content-Type": "application/json" }, "{}");
    assert.deepEqual(await health.json(), { ok: true });
  });

  it("reads Timeout as nanoseconds", async () => {
    const response = await post({ "Micro-Endpoint": "Greeter.Hello", "Content-Type": "application/json", Timeout: "2000000000" }, '{"name":"Ada"}');
    const { leftMs } = (await response.json()) as { leftMs: number };
    assert.ok(leftMs > 0 && leftMs <= 2_000, String(leftMs));
  });

  it("answers an error with 200, an empty body and the error JSON in Micro-Error", async () => {
    const cases: Array<[Record<string, string>, number, RegExp]> = [
      [{ "Micro-Endpoint": "Greeter.Hello", "Content-Type": "application/json" }, 400, /^name is required$/],
      [{ "Micro-Endpoint": "Greeter.Nope", "Content-Type": "application/json" }, 404, /unknown endpoint Greeter\.Nope.*Greeter\.Hello/],
      [{ "Content-Type": "application/json" }, 400, /no Micro-Endpoint header/],
      [{ "Micro-Endpoint": "Greeter.Hello", "Content-Type": "application/x-www-form-urlencoded" }, 415, /unsupported Content-Type/],
      [{ "Micro-Endpoint": "Greeter.Count", "Content-Type": "application/json" }, 400, /Greeter\.Count is a stream/],
    ];
    for (const [headers, code, detail] of cases) {
      const response = await post(headers, "{}");
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "");
      const error = MicroError.parse(response.headers.get("micro-error") ?? "");
      assert.equal(error.code, code, JSON.stringify(headers));
      assert.match(error.detail, detail);
      assert.equal(response.headers.get("x-micro-error"), response.headers.get("micro-error"));
    }
  });

  it("refuses methods other than POST with 405", async () => {
    const response = await fetch(url);
    assert.equal(response.status, 405);
  });

  it("handle() needs a name for a plain object, and says so", () => {
    const other = createService({ name: "other", registry, logger: quiet });
    assert.throws(() => other.handle({ Ping: async () => ({}) }), /pass a class instance, or give the handler a name with \{ name \}/);
    assert.throws(() => other.handle({ _hidden: async () => ({}) }, { name: "Empty" }), /Empty has no public methods/);
  });
});
