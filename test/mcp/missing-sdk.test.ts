/**
 * The SDK is an optional peer dependency: without it, `micro mcp` fails with the command that
 * installs it, and the rest of the CLI does not need it. The package's absence is made by a
 * module resolution hook (test/fixtures/without-mcp-sdk.ts), as Node reports a missing package.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { cli, fixture, tempRegistry } from "../process/harness.js";

function microWithoutSdk(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ["--import", fixture("without-mcp-sdk"), cli, ...args], {
    env: { ...process.env, MICRO_LOG_LEVEL: "warn", MICRO_REGISTRY_ADDRESS: tempRegistry() },
    encoding: "utf8",
    timeout: 20_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("MCP without @modelcontextprotocol/sdk", () => {
  it("micro mcp serve fails with the package to install; micro services works without it", () => {
    const serve = microWithoutSdk("mcp", "serve");
    assert.equal(serve.status, 1, serve.stderr);
    assert.match(serve.stderr, /the MCP gateway needs the package @modelcontextprotocol\/sdk: npm install @modelcontextprotocol\/sdk/);
    const services = microWithoutSdk("services");
    assert.equal(services.status, 0, services.stderr);
  });
});
