/**
 * The bundled entries that package.json's "exports" point to (dist/bundle, `npm run build:bundle`):
 * each subpath exports what its compiled module in dist/src exports, a class shared by several
 * subpaths is the same class from each (so `instanceof` holds across them), a default service
 * started from the root entry answers a call, and the dashboard from its subpath finds the built UI.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";

const root = path.resolve(import.meta.dirname, "..", "..", "..");
const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  exports: Record<string, string | { types: string; default: string }>;
};
const entries = Object.entries(manifest.exports).flatMap(([subpath, target]) => (typeof target === "string" ? [] : [{ subpath, ...target }]));

async function load(file: string): Promise<Record<string, unknown>> {
  const absolute = path.join(root, file);
  assert.ok(fs.existsSync(absolute), `${file} is missing: run npm run build:bundle`);
  return (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
}

describe("the bundled package entries", () => {
  it("export, subpath by subpath, the names of the compiled module beside their types", async () => {
    assert.ok(entries.length > 30);
    for (const { subpath, types, default: runtime } of entries) {
      assert.match(runtime, /^\.\/dist\/bundle\//, subpath);
      const compiled = await load(types.replace(/\.d\.ts$/, ".js"));
      const bundled = await load(runtime);
      assert.deepEqual(Object.keys(bundled).sort(), Object.keys(compiled).sort(), subpath);
    }
  });

  it("a MicroError from the bundle is a MicroError to the compiled sources too, and the other way round; subclasses check as usual", async () => {
    type Errors = { MicroError: new (id: string, code: number, detail: string) => Error; StoreNotFoundError?: unknown };
    const bundled = (await load("dist/bundle/index.js")) as unknown as Errors;
    const compiled = (await load("dist/src/errors/errors.js")) as unknown as Errors;
    const { StoreNotFoundError } = (await load("dist/src/store/store.js")) as { StoreNotFoundError: new (key: string) => Error };
    assert.notEqual(bundled.MicroError, compiled.MicroError, "two copies of the class");
    assert.ok(new bundled.MicroError("a", 400, "x") instanceof compiled.MicroError);
    assert.ok(new compiled.MicroError("a", 400, "x") instanceof bundled.MicroError);
    assert.ok(new StoreNotFoundError("k") instanceof bundled.MicroError, "a subclass's instance is a MicroError of either copy");
    assert.equal(new compiled.MicroError("a", 404, "x") instanceof StoreNotFoundError, false, "a subclass still checks its own class");
    assert.equal(new Error("x") instanceof bundled.MicroError, false);
    assert.equal(({ id: "a", code: 400 } as unknown) instanceof compiled.MicroError, false, "a look-alike object is not one");
  });

  it("give one class (one value) for a name that several subpaths export", async () => {
    const seen = new Map<string, { subpath: string; value: unknown }>();
    let shared = 0;
    for (const { subpath, default: runtime } of entries) {
      for (const [name, value] of Object.entries(await load(runtime))) {
        const first = seen.get(name);
        if (!first) {
          seen.set(name, { subpath, value });
        } else if (typeof value === "function") {
          shared++;
          assert.equal(value, first.value, `${name} from ${subpath} is not the one from ${first.subpath}`);
        }
      }
    }
    assert.ok(shared > 10, "subpaths share classes (MicroError, the registries …)");
    // MicroError is exported by the root only; an error thrown by a subpath's code is one all the same.
    const { MicroError } = await load(entries.find((e) => e.subpath === ".")!.default);
    const { Codecs } = (await load(entries.find((e) => e.subpath === "./codec")!.default)) as typeof import("../../src/codec/index.js");
    const thrown = (() => {
      try {
        new Codecs().get("application/x-unknown");
      } catch (err) {
        return err;
      }
    })();
    assert.ok(typeof MicroError === "function" && thrown instanceof MicroError, String(thrown));
  });

  it("are ASCII only, so that V8 holds and scans them as one-byte text at start-up", () => {
    const files = fs.readdirSync(path.join(root, "dist", "bundle"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".js"));
    assert.ok(files.length > 30);
    for (const file of files) {
      const bytes = fs.readFileSync(path.join(root, "dist", "bundle", file));
      const at = bytes.findIndex((byte) => byte > 0x7f);
      const text = bytes.toString("latin1");
      assert.equal(at, -1, `${file} has a character outside ASCII at ${at}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 10))}`);
    }
  });

  it("serves the dashboard's built UI from the gateway/dashboard subpath (dist/web, found from dist/bundle)", async () => {
    assert.ok(fs.existsSync(path.join(root, "dist", "web", "index.html")), "dist/web is not built: npm run build:web");
    const micro = (await load("dist/bundle/index.js")) as typeof import("../../src/index.js");
    const { createDashboard } = (await load("dist/bundle/gateway/dashboard.js")) as typeof import("../../src/gateway/dashboard.js");
    const { MemoryRegistry } = (await load("dist/bundle/registry.js")) as typeof import("../../src/registry/index.js");
    const { MemoryBroker } = (await load("dist/bundle/broker/memory.js")) as typeof import("../../src/broker/memory.js");
    const registry = new MemoryRegistry();
    const broker = new MemoryBroker();
    const logger = quietLogger(micro);
    const client = micro.createClient({ registry, broker, logger });
    const dashboard = createDashboard({ registry, client, broker, logger });
    const server = http.createServer((req, res) => void dashboard.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), fs.readFileSync(path.join(root, "dist", "web", "index.html"), "utf8"));
    } finally {
      dashboard.close();
      client.close();
      server.close();
    }
  });

  describe("a default service from the root entry", () => {
    const registry = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-bundle-"));
    const saved = process.env.MICRO_REGISTRY_ADDRESS;
    after(() => {
      process.env.MICRO_REGISTRY_ADDRESS = saved;
      fs.rmSync(registry, { recursive: true, force: true });
    });

    it("starts, answers a call, and reports an unknown service as a MicroError of the same entry", async () => {
      process.env.MICRO_REGISTRY_ADDRESS = registry;
      const micro = (await load("dist/bundle/index.js")) as typeof import("../../src/index.js");
      const service = micro.createService({ name: "bundle-check", logger: quietLogger(micro) });
      service.handle(
        new (class Greeter {
          async Hello(req: { name: string }): Promise<{ msg: string }> {
            return { msg: `Hello ${req.name}` };
          }
        })(),
      );
      await service.start();
      try {
        assert.deepEqual(await service.client.call("bundle-check", "Greeter.Hello", { name: "Bo" }), { msg: "Hello Bo" });
        const err = await service.client.call("bundle-missing", "Greeter.Hello", {}).catch((e: unknown) => e);
        assert.ok(err instanceof micro.MicroError, String(err));
        assert.equal(err.code, 404);
      } finally {
        await service.stop();
      }
    });

    it("starts and serves without loading node:crypto (about 4 ms of every start; see driver/crypto.ts)", () => {
      // A process of its own: this one has loaded node:crypto long ago.
      const child = `
        const micro = await import(${JSON.stringify(pathToFileURL(path.join(root, "dist", "bundle", "index.js")).href)});
        const service = micro.createService({ name: "bundle-crypto-check", logger: micro.createLogger({ level: "error" }) });
        service.handle(new (class Greeter { async Hello(req) { return { msg: "Hello " + req.name }; } })());
        await service.start();
        const reply = await service.client.call("bundle-crypto-check", "Greeter.Hello", { name: "Bo" });
        const loaded = process.moduleLoadList.includes("NativeModule crypto");
        await service.stop();
        console.log(JSON.stringify({ reply, loaded, id: service.id }));
      `;
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", child], {
        env: { ...process.env, MICRO_REGISTRY_ADDRESS: registry },
        encoding: "utf8",
        timeout: 30_000,
      });
      assert.equal(run.status, 0, run.stderr);
      const result = JSON.parse(run.stdout.trim().split("\n").pop() ?? "") as { reply: unknown; loaded: boolean; id: string };
      assert.deepEqual(result.reply, { msg: "Hello Bo" });
      assert.equal(result.loaded, false, "node:crypto was loaded by a default service's start");
      assert.match(result.id, /^bundle-crypto-check-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });
  });
});

function quietLogger(micro: typeof import("../../src/index.js")) {
  return micro.createLogger({ level: "error", format: "text" });
}
