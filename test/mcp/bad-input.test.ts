/**
 * Bad input to the MCP gateway, over Streamable HTTP and stdio: malformed JSON, messages that are
 * not JSON-RPC, oversized bodies and lines, unknown sessions. Each gets the JSON-RPC error it
 * deserves, and the gateway then serves a well-formed client as before.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { cli, fixture, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { connectHttp, type Gateway, post, type RpcReply, startHttpGateway } from "./harness.js";

const env = { MICRO_REGISTRY_ADDRESS: tempRegistry() };
const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};

describe("MCP gateway: bad input", () => {
  const processes: ServiceProcess[] = [];
  let gateway: Gateway;

  before(async () => {
    processes.push(await startProcess(fixture("mcp-service"), env, 30_000));
    gateway = await startHttpGateway(env);
  });

  after(() => {
    stopAll(processes);
    gateway?.child.kill("SIGKILL");
  });

  it("Streamable HTTP: malformed JSON, non-JSON-RPC, no session, unknown session, oversized body → JSON-RPC errors; then a client is served", async () => {
    const garbage = await post(gateway.url, "{not json");
    assert.equal(garbage.status, 400);
    assert.equal(garbage.json?.error?.code, -32700);

    const notRpc = await post(gateway.url, JSON.stringify({ hello: "world" }));
    assert.equal(notRpc.status, 400);
    assert.equal(notRpc.json?.error?.code, -32600);

    const noSession = await post(gateway.url, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }));
    assert.equal(noSession.status, 400);
    assert.match(noSession.json?.error?.message ?? "", /Mcp-Session-Id/);

    const unknownSession = await post(gateway.url, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }), { "Mcp-Session-Id": "nope" });
    assert.equal(unknownSession.status, 404);
    assert.match(unknownSession.json?.error?.message ?? "", /session not found/);

    const huge = await post(gateway.url, JSON.stringify({ ...INITIALIZE, padding: "x".repeat(5 * 1024 * 1024) }));
    assert.equal(huge.status, 413);
    assert.equal(huge.json?.error?.code, -32600);

    const elsewhere = await fetch(gateway.url.replace(/\/mcp$/, "/other"), { signal: AbortSignal.timeout(5_000) });
    assert.equal(elsewhere.status, 404);

    const browser = await post(gateway.url, JSON.stringify(INITIALIZE), { Origin: "https://evil.example" });
    assert.equal(browser.status, 403);

    const connected = await connectHttp(gateway.url);
    try {
      const result = await connected.client.callTool({ name: "greeter.Greeter.Hello", arguments: { name: "Ada" } });
      assert.deepEqual(result.structuredContent, { msg: "Hello Ada" });
    } finally {
      await connected.close();
    }
  });

  it("stdio: a line that is not JSON, one that is not JSON-RPC and one over the size limit each get an error; the next request is answered", async () => {
    const child = spawn(process.execPath, [cli, "mcp", "serve"], {
      env: { ...process.env, MICRO_LOG_LEVEL: "warn", ...env },
      stdio: ["pipe", "pipe", "ignore"],
    });
    const replies: RpcReply[] = [];
    createInterface({ input: child.stdout! }).on("line", (line) => replies.push(JSON.parse(line) as RpcReply));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      child.stdin!.write("{oops\n");
      child.stdin!.write(`${JSON.stringify({ id: 7, hello: "world" })}\n`);
      child.stdin!.write(`${"x".repeat(5 * 1024 * 1024)}\n`);
      child.stdin!.write(`${JSON.stringify(INITIALIZE)}\n`);
      child.stdin!.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
      child.stdin!.write(
        `${JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "greeter.Greeter.Hello", arguments: { name: "Ada" } } })}\n`,
      );
      child.stdin!.write(`${JSON.stringify({ jsonrpc: "2.0", id: 3, method: "no/such/method" })}\n`);
      const deadline = Date.now() + 15_000;
      while (replies.filter((r) => r.id === 2 || r.id === 3).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const errors = replies.filter((r) => r.error).map((r) => [r.id, r.error!.code]);
      assert.deepEqual(errors, [
        [null, -32700],
        [7, -32600],
        [null, -32600],
        [3, -32601],
      ]);
      const hello = replies.find((r) => r.id === 2)?.result as { structuredContent?: unknown } | undefined;
      assert.deepEqual(hello?.structuredContent, { msg: "Hello Ada" }, JSON.stringify(replies));
      child.stdin!.end();
      assert.equal(await exited, 0, "micro mcp serve exits 0 when its stdin ends");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("stdio: the client closing stdin while a call is in flight ends the gateway cleanly (exit 0, nothing left open)", async () => {
    const child = spawn(process.execPath, [cli, "mcp", "serve"], { env: { ...process.env, MICRO_LOG_LEVEL: "warn", ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const replies: RpcReply[] = [];
    createInterface({ input: child.stdout! }).on("line", (line) => replies.push(JSON.parse(line) as RpcReply));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      child.stdin!.write(`${JSON.stringify(INITIALIZE)}\n${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
      child.stdin!.write(
        `${JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "greeter.Greeter.Count", arguments: { to: 100, delayMs: 100 } } })}\n`,
      );
      const deadline = Date.now() + 15_000;
      while (!replies.some((r) => r.id === 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(
        replies.some((r) => r.id === 1),
        "no initialize response",
      );
      child.stdin!.end();
      assert.equal(await exited, 0, stderr);
      assert.doesNotMatch(stderr, /still open/);
      assert.ok(!replies.some((r) => r.id === 2), "the stream was cut short, not answered");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
