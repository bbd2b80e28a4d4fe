/**
 * The greeter example takes its greeting word from config: a config.yaml beside it (edited while it
 * runs), GREETER_GREETING, and etcd changed with `micro config set`, each applied without a restart.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { distRoot, runCli, tempRegistry } from "../process/harness.js";
import { freePort, privateEtcd } from "../setup/servers.js";
import { waitFor } from "../setup/wait.js";

const server = path.join(distRoot, "examples", "greeter", "server.js");
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill("SIGKILL");
});

const etcdServer = privateEtcd(await freePort());
await etcdServer.start();
after(() => etcdServer.dispose());

/** Starts the example in `cwd` with `env`; its output is kept for failure messages. */
function startGreeter(cwd: string, env: Record<string, string>): { output: () => string } {
  const child = spawn(process.execPath, [server], { cwd, env: { ...process.env, MICRO_LOG_LEVEL: "warn", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  return { output: () => output };
}

/** Calls Greeter.Hello until it answers `expected` (bounded); fails with the last answer. */
async function expectGreeting(env: Record<string, string>, expected: string, output: () => string): Promise<void> {
  let last = "";
  const ok = await waitFor(
    async () => {
      const { stdout, stderr } = await runCli(["call", "greeter", "Greeter.Hello", '{"name":"Ada"}', "--timeout", "2s"], env);
      last = stdout || stderr;
      return stdout.trim() === JSON.stringify({ msg: `${expected} Ada` });
    },
    20_000,
    100,
  );
  assert.ok(ok, `expected "${expected} Ada", last answer: ${last}; service output:\n${output()}`);
}

describe("greeter example config", () => {
  it("reads config.yaml beside it and follows edits", { timeout: 90_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-greeter-"));
    fs.writeFileSync(path.join(dir, "config.yaml"), "greeting: Howdy\n");
    const env = { MICRO_REGISTRY_ADDRESS: tempRegistry(), MICRO_CONFIG: "" };
    const { output } = startGreeter(dir, env);
    await expectGreeting(env, "Howdy", output);
    fs.writeFileSync(path.join(dir, "config.yaml"), "greeting: Hey\n");
    await expectGreeting(env, "Hey", output);
  });

  it("GREETER_GREETING overrides files; etcd overrides it, and micro config set applies at once", { timeout: 90_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-greeter-"));
    const env = { MICRO_REGISTRY_ADDRESS: tempRegistry(), MICRO_CONFIG: "etcd", MICRO_CONFIG_ADDRESS: etcdServer.address, GREETER_GREETING: "Hi" };
    const { output } = startGreeter(dir, env);
    await expectGreeting(env, "Hi", output);
    const set = await runCli(["config", "set", "greeting", "Bonjour"], env);
    assert.equal(set.code, 0, set.stderr);
    await expectGreeting(env, "Bonjour", output);
  });
});
