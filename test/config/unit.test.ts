/** Config: merge order, paths, typed getters and fallbacks, interpolation, schemas, and the in-memory sources. */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings test ${VAR} interpolation
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as v from "valibot";
import { z } from "zod";
import { ConfigError, ConfigSchemaError, ConfigTypeError } from "../../src/config/config.js";
import { parseDuration } from "../../src/config/duration.js";
import { env } from "../../src/config/env.js";
import { flags } from "../../src/config/flags.js";
import { loadConfig } from "../../src/config/load.js";
import { memory } from "../../src/config/memory.js";
import { interpolate, merge } from "../../src/config/tree.js";
import { LogRecorder, quiet } from "../setup/logger.js";
import { until as untilWithin } from "../setup/wait.js";

/** Waits (up to 5 s) for a change to be applied. */
const until = (check: () => boolean): Promise<void> => untilWithin(check, 5_000, "the config change");

describe("config merge and paths", () => {
  it("merges sources in load order: objects key by key, arrays replaced, later wins", async () => {
    const config = await loadConfig(
      memory({ db: { host: "a", port: 5432, replicas: ["r1", "r2"] }, name: "first" }),
      memory({ db: { host: "b", replicas: ["r3"] } }),
    );
    assert.deepEqual(config.all(), { db: { host: "b", port: 5432, replicas: ["r3"] }, name: "first" });
    await config.close();
  });

  it("merge() leaves its inputs alone and drops __proto__ keys", () => {
    const base = { a: { b: 1 } };
    const over = JSON.parse('{"a": {"c": 2}, "__proto__": {"polluted": true}}');
    const out = merge(base, over);
    assert.deepEqual(out, { a: { b: 1, c: 2 } });
    assert.deepEqual(base, { a: { b: 1 } });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("looks up dotted paths, list indexes and the whole tree; missing paths give the fallback", async () => {
    const config = await loadConfig(memory({ a: { b: { c: 42 } }, hosts: ["x", "y"], nothing: null }));
    assert.equal(config.get("a.b.c"), 42);
    assert.equal(config.get("hosts.1"), "y");
    assert.deepEqual(config.get(""), config.all());
    assert.equal(config.get("a.b.missing"), undefined);
    assert.equal(config.get("a.b.c.d", "fallback"), "fallback");
    assert.equal(config.get("hosts.x", 7), 7);
    assert.equal(config.get("nothing"), null);
    assert.equal(config.has("a.b"), true);
    assert.equal(config.has("a.z"), false);
    // The tree handed out is frozen: nobody changes the config under everyone else.
    assert.throws(() => {
      (config.get("a.b") as Record<string, unknown>).c = 1;
    }, TypeError);
    await config.close();
  });
});

describe("config typed getters", () => {
  const values = {
    text: "hello",
    port: 8080,
    portText: " 9090 ",
    on: true,
    yes: "yes",
    off: "0",
    timeout: "1m30s",
    delay: 250,
    plainSeconds: "30",
    hosts: ["a", "b"],
    csv: "a, b ,,c",
    db: { host: "h" },
    nothing: null,
    secret: "hunter2-value",
  };

  it("converts what can be converted", async () => {
    const config = await loadConfig(memory(values));
    assert.equal(config.string("text"), "hello");
    assert.equal(config.string("port"), "8080");
    assert.equal(config.number("port"), 8080);
    assert.equal(config.number("portText"), 9090);
    assert.equal(config.boolean("on"), true);
    assert.equal(config.boolean("yes"), true);
    assert.equal(config.boolean("off"), false);
    assert.equal(config.duration("timeout"), 90_000);
    assert.equal(config.duration("delay"), 250);
    assert.equal(config.duration("plainSeconds"), 30_000);
    assert.deepEqual(config.list("hosts"), ["a", "b"]);
    assert.deepEqual(config.list("csv"), ["a", "b", "c"]);
    assert.deepEqual(config.map("db"), { host: "h" });
    await config.close();
  });

  it("duration() follows updates and never caches a fallback", async () => {
    const source = memory({ timeout: "5s" });
    const config = await loadConfig({ sources: [source], logger: quiet });
    assert.equal(config.duration("timeout"), 5_000);
    assert.equal(config.duration("other", "1s"), 1_000);
    assert.equal(config.duration("other", "2s"), 2_000);
    await source.set("timeout", "250ms");
    await until(() => config.duration("timeout") === 250);
    await source.set("other", 7);
    await until(() => config.duration("other", "1s") === 7);
    await config.close();
  });

  it("gives the fallback for missing and null values, undefined without one", async () => {
    const config = await loadConfig(memory(values));
    assert.equal(config.string("missing", "x"), "x");
    assert.equal(config.number("nothing", 3), 3);
    assert.equal(config.boolean("missing", true), true);
    assert.equal(config.duration("missing", "5s"), 5_000);
    assert.equal(config.duration("missing", 10), 10);
    assert.deepEqual(config.list("missing", ["z"]), ["z"]);
    assert.deepEqual(config.map("missing", { k: 1 }), { k: 1 });
    assert.equal(config.string("missing"), undefined);
    assert.equal(config.duration("missing"), undefined);
    await config.close();
  });

  it("throws a ConfigTypeError naming the path and types, never the value", async () => {
    const config = await loadConfig(memory(values));
    const cases: Array<[() => unknown, string]> = [
      [() => config.number("secret"), "a number"],
      [() => config.boolean("secret"), "a boolean"],
      [() => config.duration("secret"), "a duration"],
      [() => config.string("db"), "text"],
      [() => config.map("secret"), "an object"],
      [() => config.list("port"), "a list"],
    ];
    for (const [read, expected] of cases) {
      assert.throws(read, (err: unknown) => {
        assert.ok(err instanceof ConfigTypeError);
        assert.equal(err.code, 400);
        assert.match(err.message, new RegExp(expected));
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      });
    }
    // A wrong type is an error even with a fallback: a typo in a config file must not pass silently.
    assert.throws(() => config.number("secret", 1), ConfigTypeError);
    await config.close();
  });

  it("parses durations as Go does, with plain numbers as seconds", () => {
    assert.equal(parseDuration("1h2m3s"), 3_723_000);
    assert.equal(parseDuration("1.5s"), 1_500);
    assert.equal(parseDuration("250us"), 0.25);
    assert.equal(parseDuration("10"), 10_000);
    assert.equal(parseDuration("5 s"), undefined);
    assert.equal(parseDuration("5d"), undefined);
    assert.equal(parseDuration(""), undefined);
  });
});

describe("config interpolation", () => {
  it("replaces ${VAR}, ${VAR:-default} and $$ in every string of the tree", () => {
    const environment = { HOST: "db.local", EMPTY: "" };
    const tree = { url: "postgres://${HOST}:5432", list: ["${HOST}", 1], d: "${MISSING:-dflt}", e: "${EMPTY:-used}", u: "[${MISSING}]", cost: "$$5" };
    assert.deepEqual(interpolate(tree, environment), { url: "postgres://db.local:5432", list: ["db.local", 1], d: "dflt", e: "used", u: "[]", cost: "$5" });
  });

  it("applies to loaded config unless turned off", async () => {
    process.env.TS_MICRO_CONFIG_TEST_HOST = "example.internal";
    const source = memory({ host: "${TS_MICRO_CONFIG_TEST_HOST}" });
    const on = await loadConfig(source);
    const off = await loadConfig({ sources: [source], interpolate: false });
    assert.equal(on.get("host"), "example.internal");
    assert.equal(off.get("host"), "${TS_MICRO_CONFIG_TEST_HOST}");
    await on.close();
    await off.close();
    delete process.env.TS_MICRO_CONFIG_TEST_HOST;
  });
});

describe("config env and flags sources", () => {
  it("maps variables as Go Micro does, with the prefix stripped or kept", async () => {
    const environment = { APP_DATABASE_HOST: "h", APP_DATABASE_PORT: "5432", APP_DEBUG: "true", APP_MAX__CONNS: "007", OTHER: "x" };
    assert.deepEqual(await env({ prefix: "APP", env: environment }).read(), {
      database: { host: "h", port: 5432 },
      debug: true,
      max_conns: "007",
    });
    assert.deepEqual(await env({ prefix: "APP_", keepPrefix: true, env: { APP_A_B: "1" } }).read(), { app: { a: { b: 1 } } });
    assert.deepEqual(await env({ env: { A_B: "1", C: "x" } }).read(), { a: { b: 1 }, c: "x" });
  });

  it("keeps the object when a variable is a prefix of another", async () => {
    assert.deepEqual(await env({ env: { DB: "x", DB_HOST: "h" } }).read(), { db: { host: "h" } });
  });

  it("reads --a-b=x, --a.b x, bare and negated flags, repeats as lists, nothing after --", async () => {
    const args = [
      "serve",
      "--database-host=h",
      "--database.port",
      "5432",
      "--verbose",
      "--no-color",
      "--tag",
      "a",
      "--tag",
      "b",
      "--registry_address",
      "r:2379",
      "--",
      "--ignored",
      "1",
    ];
    assert.deepEqual(await flags({ args }).read(), {
      database: { host: "h", port: 5432 },
      verbose: true,
      color: false,
      tag: ["a", "b"],
      registry_address: "r:2379",
    });
  });

  it("later sources override earlier ones: defaults < env < flags", async () => {
    const config = await loadConfig(
      memory({ server: { port: 80, host: "0.0.0.0" } }),
      env({ prefix: "SVC", env: { SVC_SERVER_PORT: "8080" } }),
      flags({ args: ["--server-port", "9090"] }),
    );
    assert.deepEqual(config.all(), { server: { port: 9090, host: "0.0.0.0" } });
    await config.close();
  });
});

describe("config schemas", () => {
  const zodSchema = z.object({
    server: z.object({ port: z.number().int().positive(), host: z.string() }),
    name: z.string().default("svc"),
    tags: z.array(z.string()),
  });

  it("scan() returns the schema's typed output", async () => {
    const config = await loadConfig(memory({ server: { port: 8080, host: "h" }, tags: ["a"] }));
    const scanned = await config.scan(zodSchema);
    assert.deepEqual(scanned, { server: { port: 8080, host: "h" }, name: "svc", tags: ["a"] });
    const port: number = scanned.server.port;
    assert.equal(port, 8080);
    assert.deepEqual(await config.scan(z.object({ port: z.number() }).partial(), "server"), { port: 8080 });
    await config.close();
  });

  it("lists every invalid field with its path (zod and valibot)", async () => {
    const config = await loadConfig(memory({ server: { port: "x", host: 1 }, tags: [1] }));
    await assert.rejects(config.scan(zodSchema), (err: unknown) => {
      assert.ok(err instanceof ConfigSchemaError);
      assert.deepEqual(
        err.issues.map((i) => i.path),
        ["server.port", "server.host", "tags.0"],
      );
      assert.match(err.message, /server\.port: .*; server\.host: .*; tags\.0: /);
      return true;
    });
    const valibotSchema = v.object({ server: v.object({ port: v.number(), host: v.string() }), tags: v.array(v.string()) });
    await assert.rejects(config.scan(valibotSchema), (err: unknown) => {
      assert.ok(err instanceof ConfigSchemaError);
      assert.deepEqual(
        err.issues.map((i) => i.path),
        ["server.port", "server.host", "tags.0"],
      );
      // valibot quotes the value it received; the message (which is what gets logged) does not.
      assert.match(err.issues[0].message, /"x"/);
      assert.doesNotMatch(err.message, /"x"/);
      return true;
    });
    await config.close();
  });

  it("loadConfig with a schema fails at start and serves the schema's output", async () => {
    await assert.rejects(loadConfig({ sources: [memory({ server: { port: -1, host: "h" }, tags: [] })], schema: zodSchema }), ConfigSchemaError);
    const config = await loadConfig({ sources: [memory({ server: { port: 1, host: "h" }, tags: [] })], schema: zodSchema });
    assert.equal(config.get("name"), "svc");
    await config.close();
  });

  it("an update that fails the schema is rejected and logged; the last good config stays whole", async () => {
    const log = new LogRecorder();
    const source = memory({ server: { port: 1, host: "h" }, tags: [] });
    const config = await loadConfig({ sources: [source], schema: zodSchema, logger: log });
    const seen: unknown[] = [];
    config.watch("server", (value) => seen.push(value));
    await source.set("server", { port: "not-a-port", host: "secret-host-value" });
    await until(() => log.lines.length > 0);
    assert.deepEqual(config.get("server"), { port: 1, host: "h" });
    assert.deepEqual(seen, []);
    assert.match(log.lines[0].msg, /rejected/);
    assert.match(String(log.lines[0].fields.err), /server\.port/);
    assert.doesNotMatch(JSON.stringify(log.lines), /secret-host-value|not-a-port/);
    await source.set("server", { port: 2, host: "h" });
    await until(() => seen.length === 1);
    assert.deepEqual(config.get("server"), { port: 2, host: "h" });
    await config.close();
  });
});

describe("config watch", () => {
  it("calls watchers of changed paths only, with value and previous", async () => {
    const source = memory({ a: { b: 1 }, c: 1 });
    const config = await loadConfig({ sources: [source], logger: quiet });
    const calls: unknown[] = [];
    const stop = config.watch("a.b", (value, previous) => calls.push([value, previous]));
    await source.set("c", 2);
    await source.set("a.b", 2);
    await until(() => calls.length === 1);
    assert.deepEqual(calls, [[2, 1]]);
    stop();
    await source.set("a.b", 3);
    await until(() => config.get("a.b") === 3);
    assert.equal(calls.length, 1);
    await config.close();
  });

  it("at() hands out one handle per path whose value follows every change, missing included", async () => {
    const source = memory({ a: { b: 1 } });
    const config = await loadConfig({ sources: [source], logger: quiet });
    const b = config.at<number>("a.b");
    const missing = config.at<string>("x.y");
    assert.equal(b.value, 1);
    assert.equal(missing.value, undefined);
    assert.equal(config.at("a.b"), b, "the same path gives the same handle");
    await source.set("a.b", 2);
    await source.set("x.y", "now here");
    await until(() => config.get("x.y") === "now here");
    assert.equal(b.value, 2);
    assert.equal(missing.value, "now here");
    await source.set("a", "no longer an object");
    await until(() => config.get("a") === "no longer an object");
    assert.equal(b.value, undefined);
    await config.close();
  });

  it("changes() iterates changes and ends on close()", async () => {
    const source = memory({ n: 0 });
    const config = await loadConfig({ sources: [source], logger: quiet });
    const seen: unknown[] = [];
    const done = (async () => {
      for await (const change of config.changes<number>("n")) seen.push(change.value);
    })();
    for (let n = 1; n <= 3; n++) {
      await source.set("n", n);
      await until(() => config.get("n") === n);
    }
    await until(() => seen.length === 3);
    await config.close();
    await done;
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it("a failing watcher is logged and does not stop the others", async () => {
    const log = new LogRecorder();
    const source = memory({ n: 0 });
    const config = await loadConfig({ sources: [source], logger: log });
    let other = 0;
    config.watch("n", () => {
      throw new Error("boom");
    });
    config.watch("n", () => other++);
    await source.set("n", 1);
    await until(() => other === 1);
    assert.ok(log.find("watcher failed"));
    await config.close();
  });

  it("reload() rejects an invalid result and keeps the values", async () => {
    let broken = false;
    const source = { name: "flaky", read: async () => (broken ? Promise.reject(new ConfigError("down")) : { a: 1 }) };
    const config = await loadConfig(source);
    broken = true;
    await assert.rejects(config.reload(), /flaky: down/);
    assert.equal(config.get("a"), 1);
    await config.close();
  });

  it("a source that fails at start fails the load unless optional", async () => {
    const failing = { name: "broken", read: () => Promise.reject(new Error("unreachable")) };
    await assert.rejects(loadConfig(failing, memory({})), (err: unknown) => err instanceof ConfigError && /broken: unreachable/.test(err.message));
    const config = await loadConfig({ sources: [{ ...failing, optional: true }, memory({ a: 1 })], logger: quiet });
    assert.deepEqual(config.all(), { a: 1 });
    await config.close();
  });
});
