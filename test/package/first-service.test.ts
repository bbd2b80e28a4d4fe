/**
 * The README's "Your first service", as a newcomer would do it: the package packed with `npm
 * pack`, a new project in a temporary directory made only of the files the section shows (each
 * code block whose info string names a file), ts-micro installed from the tarball (from npm's cache
 * where it can: --prefer-offline), compiled with the section's tsconfig (strict plus the
 * strictest flags, no skipLibCheck), then its service run and called by its typed client and by
 * the installed `ts-micro` and `micro` commands.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { LocalRegistry } from "../../src/registry/local.js";
import { quiet } from "../setup/logger.js";
import { until } from "../setup/wait.js";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..", "..", "..");

/** The files of the README's "Your first service" section, by path. */
function readmeProject(): Map<string, string> {
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
  const start = readme.indexOf("\n## Your first service");
  assert.ok(start >= 0, "the README has a 'Your first service' section");
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  const files = new Map<string, string>();
  for (const [, name, body] of section.matchAll(/^```\w+ (\S+)\n([\s\S]*?)^```$/gm)) if (name && body) files.set(name, body);
  return files;
}

describe("README: your first service, from the packed tarball", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-first-"));
  const project = path.join(work, "hello");
  const registry = path.join(work, "registry");
  const env = { ...process.env, MICRO_REGISTRY_ADDRESS: registry, MICRO_LOG_LEVEL: "warn" };
  let server: ChildProcess | undefined;
  let serverOutput = "";

  before(async () => {
    const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], { cwd: root, timeout: 120_000 });
    const [packed] = JSON.parse(stdout) as Array<{ filename: string }>;
    assert.ok(packed);
    const files = readmeProject();
    assert.deepEqual([...files.keys()].sort(), ["package.json", "src/client.ts", "src/greeter.ts", "src/server.ts", "tsconfig.json"]);
    for (const [name, body] of files) {
      fs.mkdirSync(path.dirname(path.join(project, name)), { recursive: true });
      fs.writeFileSync(path.join(project, name), body);
    }
    // The tarball stands in for the registry's ts-micro; everything else comes as the README says.
    const manifest = JSON.parse(files.get("package.json") ?? "{}") as { dependencies: Record<string, string> };
    assert.equal(manifest.dependencies["ts-micro"], "^0.1.0");
    manifest.dependencies["ts-micro"] = `file:${path.join(work, packed.filename)}`;
    fs.writeFileSync(path.join(project, "package.json"), JSON.stringify(manifest, null, 2));
  });

  after(() => {
    server?.kill("SIGKILL");
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("installs without running any ts-micro script, compiles under the strictest flags, and runs", async () => {
    const install = await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], { cwd: project, env, timeout: 300_000 });
    assert.doesNotMatch(`${install.stdout}${install.stderr}`, /ts-micro@/, "no install script of ts-micro is reported");
    assert.ok(fs.existsSync(path.join(project, "node_modules", "ts-micro", "LICENSE")));

    await run(process.execPath, [path.join(project, "node_modules", "typescript", "bin", "tsc"), "-p", project], { cwd: project, timeout: 180_000 }).catch(
      (err: { stdout?: string }) => assert.fail(`the README project does not compile:\n${err.stdout}`),
    );

    server = spawn(process.execPath, ["dist/server.js"], { cwd: project, env, stdio: ["ignore", "pipe", "pipe"] });
    server.stdout?.on("data", (d) => (serverOutput += d));
    server.stderr?.on("data", (d) => (serverOutput += d));
    const lookup = new LocalRegistry({ path: registry, logger: quiet });
    let registered = false;
    const poll = setInterval(() => void lookup.getService("greeter").then((found) => (registered = found.length > 0)), 50);
    try {
      await until(
        () => registered,
        30_000,
        () => `the README's service did not register; output:\n${serverOutput}`,
      );
    } finally {
      clearInterval(poll);
      await lookup.close();
    }

    const client = await run(process.execPath, ["dist/client.js", "Bo"], { cwd: project, env, timeout: 30_000 });
    assert.equal(client.stdout, "Hello Bo\n1\n2\n3\n");

    const bin = path.join(project, "node_modules", ".bin");
    const call = await run(path.join(bin, "micro"), ["call", "greeter", "Greeter.Hello", '{"name":"Cy"}'], { cwd: project, env, timeout: 30_000 });
    assert.equal(call.stdout, '{"msg":"Hello Cy"}\n');
    const services = await run(path.join(bin, "ts-micro"), ["services"], { cwd: project, env, timeout: 30_000 });
    assert.equal(services.stdout, "greeter\n");

    const stopped = new Promise((resolve) => server?.once("exit", resolve));
    server.kill("SIGTERM");
    assert.equal(await stopped, 0, serverOutput);
  });
});
