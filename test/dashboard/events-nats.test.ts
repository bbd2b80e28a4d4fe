/**
 * The Events page on a shared events backend (NATS JetStream): an event published by another
 * process (`micro events publish`) is listed among the topics the backend keeps, both by the data
 * endpoint and on the page, and reads back in the browser; one published after the page opened
 * the stream arrives live. The in-process (memory) backend's notice is not shown.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { Browser, Page } from "playwright-core";
import { MemoryBroker } from "../../src/broker/memory.js";
import { NatsStream, streamName } from "../../src/events/nats.js";
import { createDashboard } from "../../src/gateway/dashboard.js";
import { createClient } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { runCli } from "../process/harness.js";
import { quiet } from "../setup/logger.js";
import { requireServer, SERVERS } from "../setup/servers.js";
import { launchChromium } from "./harness.js";

const NATS = "127.0.0.1:4222";
/** Longest wait for something the page should show (a bound, not a measured figure). */
const SHOW = 15_000;

describe("dashboard Events page on NATS JetStream", { timeout: 120_000 }, () => {
  const topic = `dashboard-events-${randomUUID().slice(0, 8)}`;
  const registry = new MemoryRegistry();
  const client = createClient({ registry, logger: quiet });
  const events = new NatsStream({ servers: NATS, logger: quiet });
  const dashboard = createDashboard({ registry, client, broker: new MemoryBroker(), events, logger: quiet });
  const server = http.createServer((req, res) => void dashboard.handle(req, res));
  let base = "";
  let browser: Browser | undefined;
  let page: Page;

  /** `micro events publish` in a process of its own, on the shared backend. */
  const publishElsewhere = async (payload: unknown): Promise<void> => {
    const run = await runCli(["events", "publish", topic, JSON.stringify(payload)], { MICRO_EVENTS: "nats", MICRO_EVENTS_ADDRESS: NATS });
    assert.equal(run.code, 0, run.stderr);
  };

  before(async () => {
    await requireServer("NATS with JetStream", SERVERS.nats.port, SERVERS.nats.start);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(SHOW);
  });

  after(async () => {
    await browser?.close();
    dashboard.close();
    server.closeAllConnections();
    server.close();
    await events.close();
    await client.close();
    const nc = await connect({ servers: NATS });
    await (await jetstreamManager(nc)).streams.delete(streamName(topic)).catch(() => {});
    await nc.close();
  });

  it("lists a topic another process published to, with its event count, as a shared backend", async () => {
    await publishElsewhere({ from: "another process", n: 1 });
    const response = await fetch(`${base}dashboard/api/events/topics`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as {
      backend: string;
      local: boolean;
      topics: Array<{ topic: string; events: number; lastSequence: number; lastTimestamp?: string }>;
    };
    assert.equal(body.backend, "nats");
    assert.equal(body.local, false);
    const kept = body.topics.find((t) => t.topic === topic);
    assert.ok(kept, `${topic} is not among ${JSON.stringify(body.topics.map((t) => t.topic))}`);
    assert.equal(kept.events, 1);
    assert.equal(kept.lastSequence, 1);
    assert.ok(kept.lastTimestamp && Math.abs(Date.parse(kept.lastTimestamp) - Date.now()) < 60_000, `lastTimestamp ${kept.lastTimestamp}`);
  });

  it("shows that topic on the page, reads its event back, and a new one from another process arrives live", async () => {
    await page.goto(`${base}#/events`);
    const row = page.locator(`[data-testid=event-topics] tr[data-topic='${topic}']`);
    await row.waitFor();
    assert.equal((await row.locator("td").nth(1).textContent())?.trim(), "1");
    assert.equal(await page.locator("[data-testid=events-local]").count(), 0, "the in-process notice shows with a shared backend");
    await row.locator("[data-testid=read-topic]").click();
    const feed = page.locator(`[data-testid=feed][data-topic='${topic}']`);
    await feed.locator("li", { hasText: '"from":"another process","n":1' }).waitFor();
    await publishElsewhere({ from: "another process", n: 2 });
    await feed.locator("li", { hasText: '"n":2' }).waitFor();
    // The list catches up with events it was not told about (it is read again every few seconds).
    await page.locator(`[data-testid=event-topics] tr[data-topic='${topic}'] td:nth-child(2)`, { hasText: /^2$/ }).waitFor();
  });
});
