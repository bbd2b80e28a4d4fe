/**
 * `micro gateway` as one front door: besides /api it serves the web dashboard at `/` and MCP's
 * Streamable HTTP at `/mcp` on the same port (the SDK's own client lists and calls the tools), and
 * `--no-dashboard` / `--no-mcp` leave them out. Services run in processes of their own.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { connectHttp } from "../mcp/harness.js";
import { cli, fixture, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { freePort } from "../setup/servers.js";
import { until } from "../setup/wait.js";

interface RunningGateway {
  child: ChildProcess;
  url: string;
  stop: () => Promise<number | null>;
}

async function startGateway(env: Record<string, string>, args: string[] = []): Promise<RunningGateway> {
  const port = await freePort();
  const child = spawn(process.execPath, [cli, "gateway", "--address", `127.0.0.1:${port}`, ...args], {
    env: { ...process.env, MICRO_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await until(
    () => output.includes("gateway listening on") || child.exitCode !== null,
    30_000,
    () => `micro gateway did not listen; output:\n${output}`,
  );
  assert.equal(child.exitCode, null, `micro gateway exited; output:\n${output}`);
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

describe("micro gateway with the dashboard and MCP mounted", () => {
  const env = { MICRO_REGISTRY_ADDRESS: tempRegistry() };
  const processes: ServiceProcess[] = [];

  before(async () => {
    processes.push(await startProcess(fixture("mcp-service"), env, 30_000));
  });
  after(() => stopAll(processes));

  it("serves /api, the dashboard at / and MCP at /mcp on one port, and stops on SIGTERM", async () => {
    const gateway = await startGateway(env);
    try {
      const api = await fetch(`${gateway.url}/api/greeter/Greeter/Hello`, { method: "POST", body: '{"name":"Ada"}' });
      assert.equal(api.status, 200);
      assert.deepEqual(await api.json(), { msg: "Hello Ada" });

      const page = await fetch(`${gateway.url}/`);
      assert.equal(page.status, 200, "the dashboard's page (is dist/web built? npm run build:web)");
      assert.match(page.headers.get("content-type") ?? "", /text\/html/);
      const services = await fetch(`${gateway.url}/dashboard/api/services`);
      assert.equal(services.status, 200);
      assert.match(await services.text(), /"greeter"/);

      const mcp = await connectHttp(`${gateway.url}/mcp`);
      try {
        const { tools } = await mcp.client.listTools();
        assert.ok(
          tools.some((t) => t.name === "greeter.Greeter.Hello"),
          tools.map((t) => t.name).join(", "),
        );
        const result = await mcp.client.callTool({ name: "greeter.Greeter.Hello", arguments: { name: "Ada" } });
        assert.equal(result.isError ?? false, false);
        assert.deepEqual(result.structuredContent, { msg: "Hello Ada" });
      } finally {
        await mcp.close();
      }
    } finally {
      assert.equal(await gateway.stop(), 0);
    }
  });

  it("leaves the dashboard and MCP out with --no-dashboard and --no-mcp", async () => {
    const gateway = await startGateway(env, ["--no-dashboard", "--no-mcp"]);
    try {
      assert.equal((await fetch(`${gateway.url}/`)).status, 404);
      const mcp = await fetch(`${gateway.url}/mcp`, { method: "POST", body: "{}", headers: { "Content-Type": "application/json" } });
      assert.equal(mcp.status, 404);
      const api = await fetch(`${gateway.url}/api/greeter/Greeter/Hello`, { method: "POST", body: '{"name":"Ada"}' });
      assert.equal(api.status, 200);
    } finally {
      assert.equal(await gateway.stop(), 0);
    }
  });
});
