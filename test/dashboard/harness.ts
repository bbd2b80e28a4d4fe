/**
 * What the dashboard's browser test and screenshot script share: greeter services in their own
 * processes, the dashboard served by a plain node:http server in this process, and Debian's
 * chromium driven by playwright-core.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type Browser, chromium } from "playwright-core";
import { MemoryStream } from "../../src/events/memory.js";
import { createDashboard, type DashboardMount } from "../../src/gateway/dashboard.js";
import { createClient } from "../../src/index.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { resolveBroker } from "../../src/service/resolve.js";
import { fixture, type ServiceProcess, startProcess, tempRegistry } from "../process/harness.js";
import { quiet } from "../setup/logger.js";

export const CHROMIUM = "/usr/bin/chromium";
/** Seconds a greeter's registration lives without a heartbeat. */
export const REGISTER_TTL = 3;

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`the dashboard tests need Debian's chromium at ${CHROMIUM}: apt-get install -y chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export interface DashboardSetup {
  url: string;
  dashboard: DashboardMount;
  registryDir: string;
  env: Record<string, string>;
  greeters: ServiceProcess[];
  startGreeter(): Promise<ServiceProcess>;
  close(): Promise<void>;
}

/** A registry directory of its own, `greeters` greeter processes and the dashboard on a loopback port. */
export async function startDashboard(greeters: number): Promise<DashboardSetup> {
  const registryDir = tempRegistry();
  const env = {
    MICRO_REGISTRY: "local",
    MICRO_REGISTRY_ADDRESS: registryDir,
    MICRO_REGISTER_TTL: String(REGISTER_TTL),
    MICRO_REGISTER_INTERVAL: "1",
    MICRO_BROKER: "http",
  };
  const registry = new LocalRegistry({ path: registryDir, rescanInterval: 250 });
  const broker = resolveBroker("http", undefined, { registry, logger: quiet });
  const client = createClient({ registry, broker, logger: quiet });
  const events = new MemoryStream({ logger: quiet });
  const dashboard = createDashboard({ registry, client, broker, events, logger: quiet });
  const server = http.createServer((req, res) => void dashboard.handle(req, res));
  server.on("upgrade", (req, socket, head) => dashboard.upgrade(req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const running: ServiceProcess[] = [];
  const startGreeter = async (): Promise<ServiceProcess> => {
    const greeter = await startProcess(fixture("dashboard-greeter"), env);
    running.push(greeter);
    return greeter;
  };
  try {
    for (let i = 0; i < greeters; i++) await startGreeter();
  } catch (err) {
    for (const p of running) p.child.kill("SIGKILL");
    server.close();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    dashboard,
    registryDir,
    env,
    greeters: running,
    startGreeter,
    async close() {
      for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
      dashboard.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await events.close();
      await broker.disconnect();
      await client.close();
      await registry.close();
      fs.rmSync(registryDir, { recursive: true, force: true });
    },
  };
}
