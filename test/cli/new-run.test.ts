/**
 * `micro new` and `micro run` as a newcomer uses them: a generated project installed with npm (from
 * npm's cache where it can), built, tested by its own test, run by `micro run` and called with
 * `micro call` and through the HTTP gateway it starts; then edited while it runs (it restarts and
 * serves the new code), and stopped with Ctrl-C (no process and no registry record are left).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { LocalRegistry } from "../../src/registry/local.js";
import { runCli, tempRegistry } from "../process/harness.js";
import { quiet } from "../setup/logger.js";
import { freePort } from "../setup/servers.js";
import { waitFor } from "../setup/wait.js";
import { alive, type RunProcess, type StatusEntry, startRun, status } from "./run-harness.js";

const execFileAsync = promisify(execFile);

/**
 * Runs a command as a user would: without node:test's NODE_TEST_CONTEXT, which would make the
 * project's own `node --test` report to this runner instead of printing its results.
 */
function run(command: string, args: string[], options: { cwd: string; timeout: number }): Promise<{ stdout: string; stderr: string }> {
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return execFileAsync(command, args, { ...options, env });
}

describe("micro new, then micro run", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-new-"));
  const project = path.join(work, "hello-world");
  const env = { MICRO_REGISTRY_ADDRESS: tempRegistry(), MICRO_RUN_DIR: path.join(work, "run"), MICRO_LOG_LEVEL: "info" };
  let running: RunProcess | undefined;

  after(async () => {
    await running?.stop("SIGKILL").catch(() => {});
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(env.MICRO_REGISTRY_ADDRESS, { recursive: true, force: true });
  });

  it("creates a project that installs, builds, passes its test, runs under micro run and answers micro call", async () => {
    const created = await runCli(["new", project], env);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /created src\/handler\.ts/);
    assert.match(created.stdout, /cd .*hello-world && npm install && micro run/);
    for (const file of ["package.json", "tsconfig.json", ".gitignore", "README.md", "src/handler.ts", "src/main.ts", "src/client.ts", "test/handler.test.ts"])
      assert.ok(fs.existsSync(path.join(project, file)), `${file} was created`);
    assert.match(fs.readFileSync(path.join(project, "src/handler.ts"), "utf8"), /export class HelloWorld \{/);
    assert.match(fs.readFileSync(path.join(project, "src/client.ts"), "utf8"), /client\.service<\{ HelloWorld: HelloWorld \}>\("hello-world"\)/);

    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], { cwd: project, timeout: 300_000 });
    await run("npm", ["run", "build"], { cwd: project, timeout: 180_000 }).catch((err: { stdout?: string }) =>
      assert.fail(`the project does not build:\n${err.stdout}`),
    );
    const tested = await run("npm", ["test"], { cwd: project, timeout: 180_000 }).catch((err: { stdout?: string }) =>
      assert.fail(`the project's own test fails:\n${err.stdout}`),
    );
    assert.match(tested.stdout, /# pass 3\n# fail 0/);

    const gateway = `127.0.0.1:${await freePort()}`;
    running = startRun(["--gateway-address", gateway], env, project);
    await running.waitFor(/hello-world \| .*"service started"/);
    await running.waitFor(/gateway listening on/);
    const call = await runCli(["call", "hello-world", "HelloWorld.Call", '{"name":"Alice"}'], env);
    assert.equal(call.code, 0, call.stderr);
    assert.equal(call.stdout, '{"msg":"Hello Alice"}\n');
    // The README's first call, through the gateway micro run started: curl -d '{"name":"Alice"}' …
    const viaHttp = await fetch(`http://${gateway}/api/hello-world/HelloWorld/Call`, { method: "POST", body: '{"name":"Alice"}' });
    assert.equal(viaHttp.status, 200);
    assert.deepEqual(await viaHttp.json(), { msg: "Hello Alice" });
    const stream = await runCli(["stream", "hello-world", "HelloWorld.Stream", '{"count":2}'], env);
    assert.equal(stream.stdout, '{"count":1}\n{"count":2}\n');
  });

  it("restarts a service when one of its files changes, serving the new code", async () => {
    assert.ok(running, "the previous test left micro run running");
    // The spare process for a restart is started a moment after the service: wait for it, or a
    // change made at once (a fast machine) would restart without one.
    let before: StatusEntry | undefined;
    const standbyStarted = async (): Promise<boolean> => {
      before = (await status(env)).find((e) => e.name === "hello-world");
      return before?.standby !== undefined;
    };
    assert.ok(await waitFor(standbyStarted, 30_000, 100), "micro run started a standby process for the next restart");
    assert.equal(before?.state, "running");
    const handler = path.join(project, "src", "handler.ts");
    fs.writeFileSync(handler, fs.readFileSync(handler, "utf8").replace("`Hello $", "`Howdy $"));
    await running.waitFor(/hello-world \| \[micro\] restarting: src\/handler\.ts changed/);
    let answer = "";
    const served = await waitFor(
      async () => {
        answer = (await runCli(["call", "hello-world", "HelloWorld.Call", '{"name":"Bo"}'], env)).stdout;
        return answer === '{"msg":"Howdy Bo"}\n';
      },
      60_000,
      250,
    );
    assert.ok(served, `the restarted service answers with the new code; last answer ${answer}\n${running.output()}`);
    const after = (await status(env)).find((e) => e.name === "hello-world");
    assert.equal(after?.state, "running");
    assert.equal(after?.restarts, 1);
    assert.notEqual(after?.pid, before?.pid);
    // The new process starts while the old one deregisters and drains: the old one then exits.
    assert.ok(await waitFor(async () => !alive(before!.pid), 30_000, 50), "the old process is gone");
    assert.match(running.output(), /hello-world \| \[micro\] started \(pid \d+, from standby\)/, "the restart used the standby process");
  });

  it("on Ctrl-C stops every service, which deregisters: no process and no registry record are left", async () => {
    assert.ok(running, "the previous test left micro run running");
    const entry = (await status(env)).find((e) => e.name === "hello-world");
    assert.equal(await running.stop("SIGINT"), 0);
    assert.match(running.output(), /hello-world \| \[micro\] stopped \(code 0\)/);
    assert.equal(alive(entry!.pid), false);
    const registry = new LocalRegistry({ path: env.MICRO_REGISTRY_ADDRESS, logger: quiet });
    try {
      assert.deepEqual(await registry.getService("hello-world"), []);
    } finally {
      await registry.close();
    }
    const services = await runCli(["services"], env);
    assert.equal(services.stdout, "");
    const [stopped] = await status(env);
    assert.match(stopped?.state ?? "", /^stopped/);

    const logs = await runCli(["logs", "hello-world"], env);
    assert.equal(logs.code, 0);
    assert.match(logs.stdout, /"service started"/);
    assert.match(logs.stdout, /\[micro\] restarting: src\/handler\.ts changed/);
  });
});

describe("micro new: bad input", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-new-bad-"));
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it("refuses an unknown template, naming the ones there are", async () => {
    const { code, stderr } = await runCli(["new", path.join(work, "a"), "--template", "crud"], {});
    assert.equal(code, 2);
    assert.match(stderr, /unknown template "crud" \(expected default, pubsub, store\)/);
    assert.equal(fs.existsSync(path.join(work, "a")), false);
  });

  it("refuses a directory that exists and is not empty", async () => {
    fs.mkdirSync(path.join(work, "taken"));
    fs.writeFileSync(path.join(work, "taken", "keep.txt"), "mine");
    const { code, stderr } = await runCli(["new", path.join(work, "taken")], {});
    assert.equal(code, 2);
    assert.match(stderr, /already exists and is not an empty directory/);
    assert.deepEqual(fs.readdirSync(path.join(work, "taken")), ["keep.txt"]);
  });

  it("refuses names that are not service names", async () => {
    for (const name of ["Hello", "1st", "with space", "trailing-", "a--b"]) {
      const { code, stderr } = await runCli(["new", path.join(work, name)], {});
      assert.equal(code, 2, name);
      assert.match(stderr, /is not a valid service name/, name);
    }
    const none = await runCli(["new"], {});
    assert.equal(none.code, 2);
    assert.match(none.stderr, /new needs one name/);
  });

  it("generates every template with the name replaced throughout", async () => {
    for (const template of ["default", "pubsub", "store"]) {
      const dir = path.join(work, `t-${template}`);
      const { code, stderr } = await runCli(["new", dir, "--template", template], {});
      assert.equal(code, 0, stderr);
      const files = fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => fs.statSync(path.join(dir, f)).isFile());
      for (const file of files) assert.doesNotMatch(fs.readFileSync(path.join(dir, file), "utf8"), /helloworld/i, `${template}/${file}`);
      assert.match(fs.readFileSync(path.join(dir, "src", "main.ts"), "utf8"), new RegExp(`name: "t-${template}"`));
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
      assert.match(manifest.dependencies["ts-micro"], /^file:\//);
      assert.deepEqual(Object.keys(manifest.devDependencies).sort(), ["@types/node", "tsx", "typescript"]);
    }
  });
});

describe("micro new --template pubsub and store, run together by micro run", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-templates-"));
  const env = {
    MICRO_REGISTRY_ADDRESS: tempRegistry(),
    MICRO_RUN_DIR: path.join(work, ".run"),
    MICRO_LOG_LEVEL: "info",
    MICRO_STORE_ADDRESS: path.join(work, ".store"),
  };
  let running: RunProcess | undefined;

  after(async () => {
    await running?.stop("SIGKILL").catch(() => {});
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(env.MICRO_REGISTRY_ADDRESS, { recursive: true, force: true });
  });

  it("each installs, builds and passes its own test; micro run on their parent runs both", async () => {
    for (const template of ["pubsub", "store"]) {
      const dir = path.join(work, `my-${template}`);
      const created = await runCli(["new", dir, "--template", template], env);
      assert.equal(created.code, 0, created.stderr);
      await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], { cwd: dir, timeout: 300_000 });
      const tested = await run("npm", ["test"], { cwd: dir, timeout: 180_000 }).catch((err: { stdout?: string }) =>
        assert.fail(`the ${template} project's own test fails:\n${err.stdout}`),
      );
      assert.match(tested.stdout, /# fail 0/);
    }

    running = startRun(["--no-gateway", work], env, os.tmpdir());
    await running.waitFor(/my-pubsub \| .*"service started"/);
    await running.waitFor(/my-store +\| .*"service started"/);
    const greeted = await runCli(["call", "my-pubsub", "MyPubsub.Call", '{"name":"Ada"}'], env);
    assert.equal(greeted.stdout, '{"msg":"Hello Ada"}\n', greeted.stderr);
    let recent = "";
    const received = await waitFor(
      async () => {
        recent = (await runCli(["call", "my-pubsub", "MyPubsub.Recent"], env)).stdout;
        return recent.includes('"name":"Ada"');
      },
      30_000,
      200,
    );
    assert.ok(received, `the subscriber received the greeting; Recent said ${recent}`);
    const saved = await runCli(["call", "my-store", "MyStore.Save", '{"id":"a","text":"milk"}'], env);
    assert.equal(saved.code, 0, saved.stderr);
    const read = await runCli(["call", "my-store", "MyStore.Get", '{"id":"a"}'], env);
    assert.equal(JSON.parse(read.stdout).text, "milk");
    assert.equal(await running.stop("SIGTERM"), 0);
  });
});
