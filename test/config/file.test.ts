/** The file source: formats, bad input, and hot reload of edits in place and by rename. */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { ConfigError } from "../../src/config/config.js";
import { file } from "../../src/config/file.js";
import { loadConfig } from "../../src/config/load.js";
import { LogRecorder, quiet } from "../setup/logger.js";
import { until } from "../setup/wait.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-config-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** Writes `text` to a new file named with `extension` and returns its path. */
function write(extension: string, text: string): string {
  const name = path.join(dir, `config-${++counter}.${extension}`);
  fs.writeFileSync(name, text);
  return name;
}

/** A generous bound for a change to show: the figure that matters is the measured latency, reported. */
const APPLY_BOUND = 10_000;

describe("config file formats", () => {
  it("reads JSON, YAML and TOML by extension, and merges them in order", async () => {
    const json = write("json", '{"db": {"host": "json", "port": 1}, "list": [1, 2]}');
    const yaml = write("yaml", "db:\n  host: yaml\nlist: [3]\n");
    const toml = write("toml", '[db]\nuser = "toml"\n');
    const config = await loadConfig(file(json), file(yaml), file(toml));
    assert.deepEqual(config.all(), { db: { host: "yaml", port: 1, user: "toml" }, list: [3] });
    await config.close();
  });

  it("refuses an unknown extension unless the format is given", async () => {
    assert.throws(() => file(path.join(dir, "config.ini")), /unknown format/);
    const name = write("conf", "a: 1\n");
    const config = await loadConfig(file(name, { format: "yaml" }));
    assert.equal(config.get("a"), 1);
    await config.close();
  });
});

describe("config file bad input", () => {
  /** Asserts that loading `source` fails with a ConfigError matching `pattern` that does not quote `secret`. */
  async function refuses(name: string, pattern: RegExp, secret = "s3cr3t"): Promise<void> {
    await assert.rejects(loadConfig(file(name)), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.code, 400);
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes(secret), `the message quotes the file: ${err.message}`);
      return true;
    });
  }

  it("a missing file is an error, unless optional", async () => {
    await refuses(path.join(dir, "absent.json"), /cannot read config file .*absent\.json: ENOENT/);
    const config = await loadConfig(file(path.join(dir, "absent.yaml"), { optional: true }));
    assert.deepEqual(config.all(), {});
    await config.close();
  });

  it("an unreadable path (a directory) is an error", async () => {
    const sub = path.join(dir, "adir.json");
    fs.mkdirSync(sub);
    await refuses(sub, /not a regular file/);
  });

  it("syntax errors say where, never quoting the content", async () => {
    await refuses(write("json", '{"password": "s3cr3t",\n "x": }'), /not valid JSON/);
    await refuses(write("yaml", 'password: "s3cr3t\nx: [\n'), /not valid YAML \(.*line \d+/);
    await refuses(write("toml", 'password = "s3cr3t\n'), /not valid TOML \(line 1/);
  });

  it("a YAML alias bomb is refused without expanding it", async () => {
    const bomb = [
      "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]",
      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]",
      "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]",
      "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]",
      "h: [*g, *g, *g, *g, *g, *g, *g, *g, *g]",
    ].join("\n");
    const started = process.memoryUsage().heapUsed;
    await refuses(write("yaml", bomb), /aliases used: refused/);
    assert.ok(process.memoryUsage().heapUsed - started < 200 * 1024 * 1024, "the bomb was expanded");
  });

  it("a file over the size limit is refused before it is read", async () => {
    const big = write("json", `{"a": "${"x".repeat(5 * 1024 * 1024)}"}`);
    await refuses(big, /is \d+ bytes, more than the limit of 4194304/);
    const small = write("json", `{"a": "${"x".repeat(2_000)}"}`);
    await assert.rejects(loadConfig(file(small, { maxBytes: 1_000 })), /more than the limit of 1000/);
  });

  it("a root that is not an object, or an empty file, is refused", async () => {
    await refuses(write("json", "[1, 2]"), /top level must be an object .*found a list/);
    await refuses(write("yaml", "just text\n"), /top level must be an object .*found a string/);
    await refuses(write("json", "null"), /found null/);
    await refuses(write("yaml", "  \n"), /is empty/);
  });
});

describe("config file hot reload", () => {
  /** Loads `name`, applies `edit`, and waits for `path` to become `expected`; returns the latency in ms. */
  async function latency(name: string, edit: () => void, key: string, expected: unknown, log = new LogRecorder()): Promise<number> {
    const config = await loadConfig({ sources: [file(name)], logger: log });
    try {
      const started = performance.now();
      edit();
      await until(
        () => config.get(key) === expected,
        APPLY_BOUND,
        () => `${key} is ${JSON.stringify(config.get(key))}, expected ${JSON.stringify(expected)}`,
      );
      return performance.now() - started;
    } finally {
      await config.close();
    }
  }

  it("applies an edit written in place", async (t) => {
    const name = write("yaml", "greeting: Hello\n");
    const ms = await latency(name, () => fs.writeFileSync(name, "greeting: Hi\n"), "greeting", "Hi");
    t.diagnostic(`in-place edit applied after ${ms.toFixed(1)} ms`);
  });

  it("applies an edit written to a temporary file and renamed over the config", async (t) => {
    const name = write("json", '{"greeting": "Hello"}');
    const ms = await latency(
      name,
      () => {
        const temporary = `${name}.tmp`;
        fs.writeFileSync(temporary, '{"greeting": "Hola"}');
        fs.renameSync(temporary, name);
      },
      "greeting",
      "Hola",
    );
    t.diagnostic(`write-then-rename applied after ${ms.toFixed(1)} ms`);
    // And again: the watch must survive the rename that replaced the file it was first set on.
    const config = await loadConfig({ sources: [file(name)], logger: quiet });
    for (const word of ["One", "Two"]) {
      fs.writeFileSync(`${name}.tmp`, JSON.stringify({ greeting: word }));
      fs.renameSync(`${name}.tmp`, name);
      await until(() => config.get("greeting") === word, APPLY_BOUND, `greeting ${word}`);
    }
    await config.close();
  });

  it("an invalid edit keeps the old values and logs an error without the file's content", async () => {
    const name = write("yaml", "greeting: Hello\ntoken: s3cr3t\n");
    const log = new LogRecorder();
    const config = await loadConfig({ sources: [file(name)], logger: log });
    fs.writeFileSync(name, "greeting: [Broken\ntoken: s3cr3t-new\n");
    await until(() => log.lines.length > 0, APPLY_BOUND, "an error logged for the invalid edit");
    assert.equal(config.get("greeting"), "Hello");
    assert.equal(config.get("token"), "s3cr3t");
    assert.match(log.lines[0].msg, /rejected/);
    assert.match(String(log.lines[0].fields.err), /not valid YAML/);
    assert.doesNotMatch(JSON.stringify(log.lines), /s3cr3t/);
    // Fixing the file applies again.
    fs.writeFileSync(name, "greeting: Fixed\n");
    await until(() => config.get("greeting") === "Fixed", APPLY_BOUND, "the fixed edit applied");
    assert.equal(config.get("token"), undefined);
    await config.close();
  });

  it("an optional file created after start is picked up", async () => {
    const name = path.join(dir, "later.toml");
    const config = await loadConfig({ sources: [file(name, { optional: true })], logger: quiet });
    assert.equal(config.get("greeting"), undefined);
    fs.writeFileSync(name, 'greeting = "Late"\n');
    await until(() => config.get("greeting") === "Late", APPLY_BOUND, "the new file applied");
    await config.close();
  });
});
