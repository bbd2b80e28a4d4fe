/**
 * The dashboard with a Go Micro v5 service (interop/helloworld) in a registry both share (the
 * machine's NATS): the service, its Go node metadata and its endpoint shapes as Go Micro
 * registers them, a call and a Go error from the form, and a stream, all in chromium.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { createDashboard, type DashboardMount } from "../../src/gateway/dashboard.js";
import { createClient, type Registry, resolveBroker, resolveRegistry } from "../../src/index.js";
import { type GoProcess, startGo } from "../interop/go.js";
import { createWorld, type World } from "../interop/world.js";
import { quiet } from "../setup/logger.js";
import { launchChromium } from "./harness.js";

const SHOW = 15_000;

describe("dashboard with a Go Micro service", { timeout: 240_000 }, () => {
  // A name of our own: the shared NATS registry may hold other services.
  const name = `gohello-${randomUUID().slice(0, 8)}`;
  let world: World;
  let go: GoProcess;
  let registry: Registry;
  let dashboard: DashboardMount;
  let server: http.Server;
  let url: string;
  let browser: Browser;
  let page: Page;
  let closeAll = async (): Promise<void> => {};

  before(async () => {
    world = await createWorld("nats", 0);
    go = await startGo("helloworld", { ...world.go.env, INTEROP_NAME: name });
    registry = resolveRegistry("nats", world.ts.env.MICRO_REGISTRY_ADDRESS, { logger: quiet });
    const broker = resolveBroker("http", "127.0.0.1:0", { registry, logger: quiet });
    const client = createClient({ registry, broker, logger: quiet });
    dashboard = createDashboard({ registry, client, broker, logger: quiet });
    server = http.createServer((req, res) => void dashboard.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    closeAll = async () => {
      dashboard.close();
      server.close();
      await client.close();
      await broker.disconnect();
      await registry.close();
    };
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(SHOW);
  });

  after(async () => {
    await browser?.close();
    await go?.stop();
    await closeAll();
    await world?.dispose();
  });

  it("shows the Go service, its node's Go Micro metadata and its endpoint shapes", async () => {
    await page.goto(url);
    await page.locator(`[data-service='${name}'] td:first-child a`).click();
    const node = page.locator("[data-node]").first();
    await node.waitFor();
    const text = (await node.textContent()) ?? "";
    assert.match(text, /protocol\s*mucp/);
    assert.match(text, new RegExp(go.address.replace(/^.*:/, ":")));
    await page.locator("[data-health]").first().waitFor();
    assert.equal(await page.locator("[data-health]").first().getAttribute("data-health"), "unsupported");
    await page.locator("[data-testid=endpoints] a", { hasText: "Helloworld.Call" }).click();
    const endpoint = (await page.locator("[data-testid=endpoint]").textContent()) ?? "";
    assert.match(endpoint, /name: string/);
    assert.match(endpoint, /msg: string/);
  });

  it("calls the Go service from the form and shows its errors", async () => {
    const editor = page.locator("[data-testid=request]");
    assert.deepEqual(JSON.parse(await editor.inputValue()), { name: "" }, "prefilled from Go Micro's request description");
    await editor.fill('{"name": "Ada"}');
    await page.click("[data-testid=call]");
    assert.match((await page.locator("[data-testid=response]").textContent()) ?? "", /"msg": "Hello Ada"/);
    await editor.fill('{"name": "missing"}');
    await page.click("[data-testid=call]");
    const error = (await page.locator("[data-testid=error]").textContent()) ?? "";
    assert.match(error, /Error 404 Not Found/);
    assert.match(error, /no user called missing/);
  });

  it("shows the Go service's server stream", async () => {
    await page.goto(`${url}#/service/${name}/Helloworld.Stream`);
    await page.locator("[data-testid=request]").fill('{"count": 3}');
    await page.click("[data-testid=call]");
    await page.locator("[data-testid=stream-state]", { hasText: "ended" }).waitFor();
    const messages = await page.locator("[data-testid=stream] .messages li").allTextContents();
    assert.deepEqual(
      messages.map((m) => JSON.parse(m)),
      [0, 1, 2].map((count) => ({ count })),
    );
  });
});
