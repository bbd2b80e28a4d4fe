/**
 * `micro run` on a project described by micro.mu or micro.json, with real service processes: a
 * service starts only once what it depends on is registered, every service gets the chosen env
 * block, a service that crashes at start is reported and the others keep serving, and `micro
 * status` and `micro logs` show what was started.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { cli, distRoot, runCli, tempRegistry } from "../process/harness.js";
import { until } from "../setup/wait.js";
import { alive, type RunProcess, startRun, status } from "./run-harness.js";

/** ts-micro as the services import it (these projects have no node_modules: tsx is ts-micro's). */
const tsMicro = pathToFileURL(path.join(distRoot, "src", "index.js")).href;

/** users: slow to start, so a dependent started without waiting for it would not find it. */
const USERS = `import { createService } from ${JSON.stringify(tsMicro)};
class Users {
  async Env(_req: unknown): Promise<{ db: string; greeting: string }> {
    return { db: process.env.DB ?? "", greeting: process.env.GREETING ?? "" };
  }
}
await new Promise((resolve) => setTimeout(resolve, 1_500));
const service = createService({ name: "users" });
service.handle(new Users());
await service.run();
`;

/** posts: asks once, as it starts, whether users is there. */
const POSTS = `import { createClient, createService } from ${JSON.stringify(tsMicro)};
const client = createClient();
const usersAtStart = await client.call("users", "Users.Env", {}, { timeout: 5_000 }).then(() => true, () => false);
await client.close();
class Posts {
  async Started(_req: unknown): Promise<{ usersAtStart: boolean; db: string }> {
    return { usersAtStart, db: process.env.DB ?? "" };
  }
}
const service = createService({ name: "posts" });
service.handle(new Posts());
await service.run();
`;

const CRASHER = `console.error("crasher: cannot open its database");
process.exit(3);
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.once("error", reject);
  });
}

function writeProject(root: string, files: Record<string, string>): void {
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  }
}

describe("micro run with micro.mu: depends, env, a crash at start, status and logs", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-mu-"));
  const env = { MICRO_REGISTRY_ADDRESS: tempRegistry(), MICRO_RUN_DIR: path.join(root, ".run"), MICRO_LOG_LEVEL: "info" };
  let running: RunProcess;

  before(() => {
    // posts is declared before users, but depends on it; crasher comes first and dies at once.
    writeProject(root, {
      // The services' top-level await needs ES modules.
      "package.json": JSON.stringify({ type: "module" }),
      "micro.mu": [
        "service crasher",
        "    path ./crasher",
        "service posts",
        "    path ./posts",
        "    depends users",
        "service users",
        "    path ./users",
        "env development",
        "    DB memory",
        "    GREETING hello there",
        "env production",
        "    DB postgres",
        "",
      ].join("\n"),
      "users/main.ts": USERS,
      "posts/main.ts": POSTS,
      "crasher/main.ts": CRASHER,
    });
    running = startRun(["--no-gateway"], env, root);
  });

  after(async () => {
    await running.stop("SIGKILL").catch(() => {});
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(env.MICRO_REGISTRY_ADDRESS, { recursive: true, force: true });
  });

  it("starts a service after what it depends on is registered, with the env block", async () => {
    await running.waitFor(/posts +\| .*"service started"/);
    const posts = await runCli(["call", "posts", "Posts.Started"], env);
    assert.deepEqual(JSON.parse(posts.stdout), { usersAtStart: true, db: "memory" }, posts.stderr);
    const users = await runCli(["call", "users", "Users.Env"], env);
    assert.deepEqual(JSON.parse(users.stdout), { db: "memory", greeting: "hello there" });
    const output = running.output();
    assert.ok(output.indexOf("users   | [micro] started") < output.indexOf("posts   | [micro] started"), output);
  });

  it("reports a service that crashes at start, and the others keep serving", async () => {
    await running.waitFor(/crasher \| \[micro\] exited \(code 3\); it restarts when one of its files changes/);
    assert.match(running.output(), /crasher \| crasher: cannot open its database/);
    const users = await runCli(["call", "users", "Users.Env"], env);
    assert.equal(users.code, 0, users.stderr);
  });

  it("micro status lists what it started, micro logs prints a service's log", async () => {
    const entries = await status(env);
    assert.deepEqual(entries.map((e) => e.name).sort(), ["crasher", "posts", "users"]);
    assert.equal(entries.find((e) => e.name === "users")?.state, "running");
    assert.equal(entries.find((e) => e.name === "crasher")?.state, "exited (code 3)");
    const table = await runCli(["status"], env);
    assert.match(table.stdout, /^NAME +STATUS +PID +UPTIME +RESTARTS +DIRECTORY$/m);
    assert.match(table.stdout, /^users +running +\d+ /m);

    const crasherLog = await runCli(["logs", "crasher"], env);
    assert.equal(crasherLog.code, 0);
    assert.match(crasherLog.stdout, /^crasher: cannot open its database$/m);
    const unknown = await runCli(["logs", "nobody"], env);
    assert.equal(unknown.code, 1);
    // Neither started by micro run nor registered: the Debug.Log path says so.
    assert.match(unknown.stderr, /service nobody not found/);
    const missing = await runCli(["logs"], env);
    assert.equal(missing.code, 2);
  });

  it("restarts a crashed service once one of its files changes", async () => {
    const fixed = `import { createService } from ${JSON.stringify(tsMicro)};
class Crasher {
  async Ok(_req: unknown): Promise<{ ok: boolean }> {
    return { ok: true };
  }
}
const service = createService({ name: "crasher" });
service.handle(new Crasher());
await service.run();
`;
    fs.writeFileSync(path.join(root, "crasher", "main.ts"), fixed);
    await running.waitFor(/crasher \| \[micro\] restarting: main\.ts changed/);
    await running.waitFor(/crasher \| .*"service started"/);
    const ok = await runCli(["call", "crasher", "Crasher.Ok"], env);
    assert.equal(ok.stdout, '{"ok":true}\n', ok.stderr);
    assert.equal((await status(env)).find((e) => e.name === "crasher")?.state, "running");
  });

  it("micro logs -f follows the log until interrupted", async () => {
    const follower = spawn(process.execPath, [cli, "logs", "users", "-f"], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let followed = "";
    follower.stdout.on("data", (d) => (followed += d));
    await until(
      () => followed.includes('"service started"'),
      30_000,
      () => `logs -f printed: ${followed}`,
    );
    // Stopping the run appends users' shutdown lines, which the follower prints.
    const [users] = (await status(env)).filter((e) => e.name === "users");
    assert.equal(await running.stop("SIGINT"), 0);
    await until(
      () => followed.includes("[micro] stopped"),
      30_000,
      () => `logs -f printed: ${followed}`,
    );
    const exited = new Promise((resolve) => follower.once("exit", resolve));
    follower.kill("SIGINT");
    assert.equal(await exited, 0);
    assert.equal(alive(users!.pid), false);
    for (const entry of await status(env)) assert.match(entry.state, /^(stopped|exited)/, entry.name);
    const services = await runCli(["services"], env);
    assert.equal(services.stdout, "", "every service deregistered");
  });
});

describe("micro run with micro.json and --env", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-json-"));
  const env = { MICRO_REGISTRY_ADDRESS: tempRegistry(), MICRO_RUN_DIR: path.join(root, ".run"), MICRO_LOG_LEVEL: "info" };
  let running: RunProcess | undefined;

  before(() =>
    writeProject(root, {
      "package.json": JSON.stringify({ type: "module" }),
      "micro.json": JSON.stringify({ services: { users: { path: "./svc/users" } }, env: { development: { DB: "memory" }, production: { DB: "postgres" } } }),
      "svc/users/main.ts": USERS,
    }),
  );

  after(async () => {
    await running?.stop("SIGKILL").catch(() => {});
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(env.MICRO_REGISTRY_ADDRESS, { recursive: true, force: true });
  });

  it("gives every service the env block chosen by --env, and starts the gateway as a child process", async () => {
    const address = `127.0.0.1:${await freePort()}`;
    running = startRun(["--no-watch", "--env", "production", "--gateway-address", address, root], env, os.tmpdir());
    await running.waitFor(/users +\| .*"service started"/);
    const users = await runCli(["call", "users", "Users.Env"], env);
    assert.deepEqual(JSON.parse(users.stdout), { db: "postgres", greeting: "" });
    // The gateway is `micro gateway --address …`, supervised like a service (whatever becomes of it).
    assert.ok(running.output().includes(`gateway: http://${address}/api/{service}/{Handler}/{Method}`), running.output());
    await running.waitFor(/gateway +\| \[micro\] started \(pid \d+\)/);
    assert.equal(await running.stop("SIGTERM"), 0);
    assert.match(running.output(), /users +\| \[micro\] stopped \(code 0\)/);
  });

  it("refuses an env the file does not have, a directory without services, and a bad config, without starting anything", async () => {
    const staging = await runCli(["run", "--no-gateway", "--env", "staging", root], env);
    assert.equal(staging.code, 2);
    assert.match(staging.stderr, /micro\.json has no env staging \(it has development, production\)/);
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-empty-"));
    try {
      const none = await runCli(["run", "--no-gateway", empty], env);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /run: no service under /);
      fs.writeFileSync(path.join(empty, "micro.mu"), "service a\n    depends b\n");
      const bad = await runCli(["run", "--no-gateway", empty], env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /micro\.mu: service a depends on b, which is not declared/);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
    const notDir = await runCli(["run", path.join(root, "nowhere")], env);
    assert.equal(notDir.code, 2);
    assert.match(notDir.stderr, /nowhere is not a directory/);
  });
});
