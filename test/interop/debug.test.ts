/**
 * A Go Micro v5 client (its generated `debug/proto` client, strict protojson decoding) calls
 * Debug.Health, Debug.Stats and Debug.Log on a ts-micro service process.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fixture, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { buildGoPrograms, runGo } from "./go.js";

interface DebugResult {
  health?: string;
  stats?: Record<string, number>;
  healthError?: unknown;
  statsError?: unknown;
  log?: { timestamp: number; message: string; metadata: Record<string, string> }[];
  logError?: unknown;
}

describe("Go Micro Debug client → ts-micro service", () => {
  const failFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-debug-")), "fail");
  let server: ServiceProcess;
  before(async () => {
    await buildGoPrograms();
    server = await startProcess(fixture("health-service"), { MICRO_REGISTRY_ADDRESS: tempRegistry(), HEALTH_FAIL_FILE: failFile, MICRO_LOG_LEVEL: "info" });
  });
  after(() => {
    stopAll([server]);
    fs.rmSync(path.dirname(failFile), { recursive: true, force: true });
  });

  const goDebug = (): Promise<DebugResult> => runGo<DebugResult>("debug", { INTEROP_SERVICE: "checked", INTEROP_ADDRESS: server.address });

  it("decodes Debug.Health and Debug.Stats", async () => {
    const result = await goDebug();
    assert.equal(result.health, "ok", JSON.stringify(result));
    const stats = result.stats!;
    assert.ok(stats, JSON.stringify(result));
    assert.ok(stats.started > 0 && stats.timestamp >= stats.started, JSON.stringify(stats));
    assert.ok(stats.memory > 1024 * 1024, JSON.stringify(stats));
    // The Health call came first; Stats itself is in flight while it is answered.
    assert.ok(stats.requests >= 2, JSON.stringify(stats));
    assert.equal(stats.threads, 1);
  });

  it("reads Debug.Log's stream of records", async () => {
    const result = await goDebug();
    assert.equal(result.logError, undefined, JSON.stringify(result));
    const log = result.log!;
    assert.ok(log.length >= 1 && log.length <= 3, JSON.stringify(result));
    const started = log.find((r) => r.message === "service started");
    assert.ok(started, JSON.stringify(log));
    assert.equal(started.metadata.level, "info");
    assert.equal(started.metadata.service, "checked");
    assert.ok(Math.abs(Number(started.timestamp) - Date.now() / 1000) < 3600, JSON.stringify(started));
  });

  it("sees down while a critical check fails", async () => {
    fs.writeFileSync(failFile, "");
    try {
      assert.equal((await goDebug()).health, "down");
    } finally {
      fs.rmSync(failFile, { force: true });
    }
  });
});
