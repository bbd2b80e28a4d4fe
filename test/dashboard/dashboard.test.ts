/**
 * The web dashboard in a real browser (Debian's chromium through playwright-core) against greeter
 * services in their own processes: the service list, a call and its error, a server stream and its
 * cancellation, a SIGKILLed node leaving the page, live subscriptions to topics and durable
 * events, and the data endpoints' answers to bad input.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Locator, Page } from "playwright-core";
import { HTTP_BROKER_SERVICE } from "../../src/broker/http.js";
import { MemoryBroker } from "../../src/broker/memory.js";
import type { Client } from "../../src/client/client.js";
import { NatsStream } from "../../src/events/nats.js";
import { createDashboard, type DashboardMount } from "../../src/gateway/dashboard.js";
import { createClient, type Registry, resolveRegistry } from "../../src/index.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { runCli } from "../process/harness.js";
import { quiet } from "../setup/logger.js";
import { freePort, type OwnedServer, privateNats } from "../setup/servers.js";
import { type DashboardSetup, launchChromium, REGISTER_TTL, startDashboard } from "./harness.js";

/** Longest wait for something the page should show (a bound, not a measured figure). */
const SHOW = 15_000;

describe("dashboard in chromium", { timeout: 180_000 }, () => {
  let setup: DashboardSetup;
  let browser: Browser;
  let page: Page;
  const outside: string[] = [];

  before(async () => {
    browser = await launchChromium();
    setup = await startDashboard(2);
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(SHOW);
    page.on("request", (request) => {
      if (!request.url().startsWith(setup.url) && !request.url().startsWith("data:")) outside.push(request.url());
    });
  });

  after(async () => {
    await browser?.close();
    await setup?.close();
  });

  it("lists greeter with its two nodes", async () => {
    await page.goto(setup.url);
    const row = page.locator("[data-service=greeter]");
    await row.waitFor();
    assert.deepEqual(await row.locator("td").allTextContents(), [
      "greeter",
      "1.0.0",
      "2",
      "4",
      "Greeter.CountGreeter.EchoGreeter.HelloGreeter.Sum",
      "greeting.sent",
    ]);
    assert.equal(await page.locator("[data-service='micro.http.broker']").count(), 0, "the broker's own records are folded away");
    await page.locator("[data-testid=connection].live").waitFor();
  });

  it("shows a service's nodes, health and endpoint shapes", async () => {
    await page.click("[data-service=greeter] td:first-child a");
    await page.locator("[data-node]").nth(1).waitFor();
    const nodes = await page.locator("[data-node]").allInnerTexts();
    for (const greeter of setup.greeters)
      assert.ok(
        nodes.some((n) => n.includes(greeter.address)),
        `node ${greeter.address} listed in ${nodes}`,
      );
    assert.ok(nodes.every((n) => n.includes("1.0.0") && n.includes("team") && n.includes("mucp")));
    await page.locator("[data-health=ok]").nth(1).waitFor();
    await page.click("text=Greeter.Hello");
    const endpoint = await text(page.locator("[data-testid=endpoint]"));
    assert.match(endpoint, /Greets a caller by name/);
    assert.match(endpoint, /name: string/);
    assert.match(endpoint, /msg: string/);
    const subscription = await page.locator("[data-testid=subscriptions] [data-topic='greeting.sent'] td").allTextContents();
    assert.deepEqual(subscription.slice(0, 2), ["greeting.sent", "audit"]);
  });

  it("calls Greeter.Hello from the form: Hello Ada, and shows the error for a bad request", async () => {
    await page.goto(`${setup.url}#/service/greeter/Greeter.Hello`);
    const editor = page.locator("[data-testid=request]");
    assert.deepEqual(JSON.parse(await editor.inputValue()), { name: "" }, "prefilled from the request shape");
    await editor.fill('{"name": "Ada"}');
    await page.click("[data-testid=call]");
    assert.match(await text(page.locator("[data-testid=response]")), /"msg": "Hello Ada"/);

    await editor.fill('{"name": ""}');
    await page.click("[data-testid=call]");
    const error = await text(page.locator("[data-testid=error]"));
    assert.match(error, /Error 400 Bad Request/);
    assert.match(error, /name is required/);
    assert.match(error, /"id": "greeter"/);

    await editor.fill('{"name": ');
    assert.ok(await page.locator("[data-testid=call]").isDisabled(), "malformed JSON cannot be sent");
    assert.match(await text(page.locator(".invalid")), /Not valid JSON/);
  });

  it("shows a server stream's messages in order until it ends", async () => {
    await page.goto(`${setup.url}#/service/greeter/Greeter.Count`);
    const editor = page.locator("[data-testid=request]");
    assert.deepEqual(JSON.parse(await editor.inputValue()), { to: 5, delayMs: 300 }, "prefilled from the endpoint's example");
    await editor.fill('{"to": 4, "delayMs": 400}');
    await page.click("[data-testid=call]");
    await page.locator("[data-testid=stream-state]", { hasText: "ended" }).waitFor();
    const messages = await page.locator("[data-testid=stream] .messages li").allInnerTexts();
    assert.deepEqual(
      messages.map((m) => JSON.parse(m)),
      [1, 2, 3, 4].map((n) => ({ n })),
    );
  });

  it("sends each element of an array to a client stream (Sum) and a bidirectional one (Echo)", async () => {
    await page.goto(`${setup.url}#/service/greeter/Greeter.Sum`);
    await page.check("[data-testid=each]");
    await page.fill("[data-testid=request]", '[{"n": 1}, {"n": 2}, {"n": 39}]');
    await page.click("[data-testid=call]");
    await page.locator("[data-testid=stream-state]", { hasText: "ended" }).waitFor();
    assert.deepEqual(await page.locator("[data-testid=stream] .messages li").allTextContents(), ['{"total":42}']);

    await page.goto(`${setup.url}#/service/greeter/Greeter.Echo`);
    await page.check("[data-testid=each]");
    await page.fill("[data-testid=request]", '[{"text": "ping"}, {"text": "pong"}]');
    await page.click("[data-testid=call]");
    await page.locator("[data-testid=stream-state]", { hasText: "ended" }).waitFor();
    assert.deepEqual(await page.locator("[data-testid=stream] .messages li").allTextContents(), ['{"text":"ping"}', '{"text":"pong"}']);
  });

  it("runs a bidirectional stream (Echo) interactively: each message sent is answered at once, then sending ends", async () => {
    await page.goto(`${setup.url}#/service/greeter/Greeter.Echo`);
    await page.check("[data-testid=interactive]");
    await page.click("[data-testid=call]");
    const editor = page.locator("[data-testid=request]");
    const received = page.locator("[data-testid=stream] [data-testid=received] li");
    await editor.fill('{"text": "ping"}');
    await page.click("[data-testid=send]");
    await received.nth(0).waitFor();
    // The answer to the first message is in before the second is written: the stream is open both ways.
    assert.deepEqual(await received.allTextContents(), ['{"text":"ping"}']);
    assert.equal(await text(page.locator("[data-testid=stream-state]")), "streaming…");
    await editor.fill('{"text": "pong"}');
    await page.click("[data-testid=send]");
    await received.nth(1).waitFor();
    assert.deepEqual(await received.allTextContents(), ['{"text":"ping"}', '{"text":"pong"}']);
    assert.deepEqual(await page.locator("[data-testid=sent] code").allTextContents(), ['{"text":"ping"}', '{"text":"pong"}']);
    await page.click("[data-testid=end]");
    await page.locator("[data-testid=stream-state]", { hasText: "ended" }).waitFor();
    assert.match(await text(page.locator("[data-testid=sending]")), /2 sent, sending ended/);
    assert.equal(await received.count(), 2);
  });

  it("runs a client stream (Sum) interactively: the answer comes once sending ends", async () => {
    await page.goto(`${setup.url}#/service/greeter/Greeter.Sum`);
    await page.check("[data-testid=interactive]");
    await page.click("[data-testid=call]");
    const editor = page.locator("[data-testid=request]");
    for (const n of [40, 2]) {
      await editor.fill(JSON.stringify({ n }));
      await page.click("[data-testid=send]");
    }
    await page.locator("[data-testid=sending]", { hasText: "2 sent" }).waitFor();
    assert.equal(await text(page.locator("[data-testid=stream-state]")), "streaming…");
    assert.equal(await page.locator("[data-testid=stream] [data-testid=received] li").count(), 0, "a client stream answers only at its end");
    await page.click("[data-testid=end]");
    await page.locator("[data-testid=stream-state]", { hasText: "ended" }).waitFor();
    assert.deepEqual(await page.locator("[data-testid=stream] [data-testid=received] li").allTextContents(), ['{"total":42}']);
  });

  it("reports an interactive stream the service fails, and one that cannot be opened", async () => {
    await page.goto(`${setup.url}#/service/greeter/Greeter.Sum`);
    await page.check("[data-testid=interactive]");
    await page.click("[data-testid=call]");
    // Sum reads `{ n }` from each message: a null message fails it on the service, which ends
    // the stream at once, with its error, while the page could still send.
    await page.fill("[data-testid=request]", "null");
    await page.click("[data-testid=send]");
    await page.locator("[data-testid=stream-state]", { hasText: "ended" }).waitFor();
    assert.match(await text(page.locator("[data-testid=stream] [data-testid=error]")), /Error 500/);
    assert.equal(await page.locator("[data-testid=send]").count(), 0, "nothing more can be sent");

    // The socket of a service that is not registered is refused before it opens.
    const socketUrl = `${setup.url.replace(/^http/, "ws")}dashboard/api/socket/nobody/X.Y`;
    const refused = await page.evaluate(
      `new Promise((resolve) => new WebSocket(${JSON.stringify(socketUrl)}).addEventListener("close", (e) => resolve(e.code)))`,
    );
    assert.equal(refused, 1006);
  });

  it("shows a stream's messages as they arrive, and Stop cancels it on the service", async () => {
    await page.goto(`${setup.url}#/service/greeter/Greeter.Count`);
    const before = setup.greeters.map((g) => g.output().split("COUNT CANCELLED").length).reduce((a, b) => a + b);
    await page.locator("[data-testid=request]").fill('{"to": 100000, "delayMs": 100}');
    await page.click("[data-testid=call]");
    // Messages show while the stream is open (it would run for hours): output arrives as produced.
    await page.locator("[data-testid=stream] .messages li").nth(1).waitFor();
    assert.equal(await text(page.locator("[data-testid=stream-state]")), "streaming…");
    await page.click("[data-testid=stop]");
    assert.equal(await text(page.locator("[data-testid=stream-state]")), "stopped");
    await waitFor(
      () => setup.greeters.map((g) => g.output().split("COUNT CANCELLED").length).reduce((a, b) => a + b) > before,
      SHOW,
      "the greeter's Count never saw its caller go away",
    );
  });

  it("aborts a call on the service when its HTTP client goes away", async () => {
    const count = (word: string) => setup.greeters.reduce((n, g) => n + g.output().split(word).length - 1, 0);
    const [started, cancelled] = [count("WAIT STARTED"), count("WAIT CANCELLED")];
    const controller = new AbortController();
    const call = fetch(`${setup.url}dashboard/api/call`, {
      method: "POST",
      body: JSON.stringify({ service: "greeter", endpoint: "Waiter.Wait", request: { ms: 600_000 } }),
      signal: controller.signal,
    }).catch((err: Error) => err);
    await waitFor(() => count("WAIT STARTED") > started, SHOW, "Waiter.Wait was never called");
    controller.abort();
    assert.equal(((await call) as Error).name, "AbortError");
    await waitFor(() => count("WAIT CANCELLED") > cancelled, SHOW, "the service's ctx.signal never fired after the HTTP client went away");
  });

  it(`drops a SIGKILLed node from the page within its ${REGISTER_TTL} s TTL, without a reload`, async () => {
    await page.goto(`${setup.url}#/service/greeter`);
    await page.locator("[data-node]").nth(1).waitFor();
    await page.evaluate(() => {
      (globalThis as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    const victim = setup.greeters[0];
    const victimRow = page.locator(`[data-node]`, { hasText: victim.address });
    await victimRow.waitFor();
    victim.child.kill("SIGKILL");
    await victim.exited;
    await victimRow.waitFor({ state: "detached", timeout: REGISTER_TTL * 1000 + 5_000 });
    assert.equal(await page.locator("[data-node]").count(), 1);
    assert.equal(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded), true);
  });

  it("shows a new node as soon as it registers", async () => {
    const fresh = await setup.startGreeter();
    await page.locator(`[data-node]`, { hasText: fresh.address }).waitFor();
    assert.equal(await page.locator("[data-node]").count(), 2);
  });

  it("shows messages published to a topic in a live subscription", async () => {
    await page.goto(`${setup.url}#/topics`);
    await page.locator("[data-testid=known-topics] [data-topic='greeting.sent']").first().waitFor();
    await page.fill("[data-testid=subscribe-topic]", "dashboard.test");
    await page.click("[data-testid=subscribe]");
    const feed = page.locator("[data-testid=feed][data-topic='dashboard.test']");
    await feed.locator("[data-testid=feed-state]", { hasText: "live" }).waitFor();

    // From another process, through the broker.
    const published = await runCli(["publish", "dashboard.test", '{"from":"cli","name":"Ada"}'], setup.env);
    assert.equal(published.code, 0, published.stderr);
    await feed.locator("li", { hasText: '{"from":"cli","name":"Ada"}' }).waitFor();

    // From the page's own publish form.
    await page.fill("[data-testid=publish-topic]", "dashboard.test");
    await page.fill("[data-testid=publish-message]", '{"from":"form"}');
    await page.click("[data-testid=publish]");
    await page.locator("[data-testid=published]").waitFor();
    await feed.locator("li", { hasText: '{"from":"form"}' }).waitFor();
  });

  it("ends the broker subscription when the page closes its feed", async () => {
    const registry = new LocalRegistry({ path: setup.registryDir });
    const subscribers = async () =>
      (await registry.getService(HTTP_BROKER_SERVICE)).flatMap((s) => s.nodes).filter((n) => n.metadata?.topic === "dashboard.test").length;
    try {
      assert.equal(await subscribers(), 1, "the page's live subscription is registered by the dashboard's HTTP broker");
      await page.locator("[data-testid=feed][data-topic='dashboard.test'] button", { hasText: "Close" }).click();
      await waitForAsync(async () => (await subscribers()) === 0, SHOW, "the subscription outlived the page's feed");
    } finally {
      await registry.close();
    }
  });

  it("publishes durable events and reads them back from the first one", async () => {
    await page.goto(`${setup.url}#/events`);
    await page.fill("[data-testid=publish-topic]", "orders");
    await page.fill("[data-testid=publish-message]", '{"order":1}');
    await page.click("[data-testid=publish]");
    await page.locator("[data-testid=published]").waitFor();
    await page.fill("[data-testid=subscribe-topic]", "orders");
    await page.click("[data-testid=subscribe]");
    const feed = page.locator("[data-testid=feed][data-topic='orders']");
    await feed.locator("li", { hasText: '{"order":1}' }).waitFor();
    await page.fill("[data-testid=publish-message]", '{"order":2}');
    await page.click("[data-testid=publish]");
    await feed.locator("li", { hasText: '{"order":2}' }).waitFor();
    assert.match(await text(feed), /#1[\s\S]*#2|#2[\s\S]*#1/);
    // The memory backend lives in the dashboard's process: the page says so, and how to share one.
    assert.match(await text(page.locator("[data-testid=events-local]")), /only the events published through this dashboard[\s\S]*MICRO_EVENTS=nats/);
    await page.locator("[data-testid=event-topics] tr[data-topic='orders']").waitFor();
  });

  it("made no request outside the dashboard", () => {
    assert.deepEqual(outside, []);
  });

  it("answers bad input with Go Micro's error JSON and keeps serving", async () => {
    const api = `${setup.url}dashboard/api/`;
    const post = (path: string, body: string) => fetch(api + path, { method: "POST", headers: { "content-type": "application/json" }, body });
    const expectError = async (response: Response, status: number, detail: RegExp) => {
      assert.equal(response.status, status);
      const body = (await response.json()) as { id: string; code: number; detail: string; status: string };
      assert.equal(typeof body.id, "string");
      assert.match(body.detail, detail);
      return body;
    };
    await expectError(await post("call", '{"service": "greeter",'), 400, /not valid JSON/);
    await expectError(await post("call", "[1,2]"), 400, /JSON object/);
    await expectError(await post("call", '{"endpoint": "Greeter.Hello"}'), 400, /service is required/);
    const missing = await expectError(await post("call", '{"service": "nobody", "endpoint": "X.Y", "request": {}}'), 404, /nobody/);
    assert.equal(missing.code, 404);
    await expectError(await post("call", '{"service": "greeter", "endpoint": "Greeter.Nope", "request": {}}'), 404, /Nope/);
    await expectError(
      await post("call", JSON.stringify({ service: "greeter", endpoint: "Greeter.Hello", request: { name: "x".repeat(2 * 1024 * 1024) } })),
      413,
      /larger/,
    );
    await expectError(await post("publish", "{}"), 400, /topic is required/);
    await expectError(await fetch(`${api}subscribe`), 400, /topic is required/);
    await expectError(await fetch(`${api}stream?service=greeter&endpoint=Greeter.Count&request=%7B`), 400, /request is not valid JSON/);
    await expectError(await fetch(`${api}stream?service=greeter&endpoint=Greeter.Sum&request=%7B%7D&each=true`), 400, /JSON array/);
    await expectError(await fetch(`${api}nothing`), 404, /no dashboard endpoint/);
    await expectError(await fetch(`${api}call`), 405, /GET is not allowed/);
    await expectError(await fetch(`${setup.url}..%2f..%2fetc%2fpasswd`), 404, /no such page/);
    await expectError(await fetch(`${setup.url}%E0%A4%A`), 404, /no such page/);

    const ok = await post("call", '{"service": "greeter", "endpoint": "Greeter.Hello", "request": {"name": "Ada"}}');
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { response: { msg: "Hello Ada" } });
  });

  it("serves the UI with caching headers: index revalidated, hashed assets immutable, gzip", async () => {
    const index = await fetch(setup.url, { headers: { "accept-encoding": "gzip" } });
    assert.equal(index.status, 200);
    assert.equal(index.headers.get("cache-control"), "no-cache");
    const html = await index.text();
    const asset = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, `a hashed script in ${html}`);
    const script = await fetch(setup.url + asset, { headers: { "accept-encoding": "gzip" } });
    assert.equal(script.status, 200);
    assert.equal(script.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal(script.headers.get("content-encoding"), "gzip");
    assert.match(script.headers.get("content-type") ?? "", /javascript/);
    const again = await fetch(setup.url + asset, { headers: { "if-none-match": script.headers.get("etag") ?? "" } });
    assert.equal(again.status, 304);
  });

  it("close() ends every open event stream, so the server can stop", async () => {
    const response = await fetch(`${setup.url}dashboard/api/watch`);
    assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const reader = response.body!.getReader();
    let text = "";
    while (!text.includes("event: services")) text += new TextDecoder().decode((await reader.read()).value);
    assert.match(text, /"name":"greeter"/);
    setup.dashboard.close();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read());
  });
});

describe("dashboard with no UI built and its events server down", { timeout: 30_000 }, () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-no-ui-"));
  const registry = new MemoryRegistry();
  const client = createClient({ registry, logger: quiet });
  // Nothing listens on port 1: connecting is refused at once.
  const events = new NatsStream({ address: "127.0.0.1:1", logger: quiet });
  const dashboard = createDashboard({ registry, client, broker: new MemoryBroker(), events, assets: empty, logger: quiet });
  const server = http.createServer((req, res) => void dashboard.handle(req, res));
  let base = "";

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  after(async () => {
    dashboard.close();
    server.close();
    await client.close();
    await events.close().catch(() => {});
    fs.rmSync(empty, { recursive: true, force: true });
  });

  it("says how to build the UI, and still serves the data endpoints", async () => {
    const index = await fetch(base);
    assert.equal(index.status, 503);
    assert.match(((await index.json()) as { detail: string }).detail, /npm run build:web/);
    const services = await fetch(`${base}dashboard/api/services`);
    assert.equal(services.status, 200);
    assert.deepEqual(await services.json(), []);
  });

  it("reports a subscription that cannot start on its event stream, then ends it", async () => {
    const response = await fetch(`${base}dashboard/api/events/subscribe?topic=orders`);
    assert.equal(response.status, 200);
    const text = await response.text(); // the stream ends after the failure
    assert.match(text, /event: failure\ndata: \{[^\n]*cannot connect to nats:\/\/127\.0\.0\.1:1/);
    assert.doesNotMatch(text, /event: subscribed/);
    const publish = await fetch(`${base}dashboard/api/events/publish`, { method: "POST", body: '{"topic":"orders","payload":{}}' });
    assert.equal(publish.status, 500);
    assert.match(((await publish.json()) as { detail: string }).detail, /cannot connect/);
  });
});

describe("dashboard whose registry is down, then up", { timeout: 90_000 }, () => {
  let nats: OwnedServer | undefined;
  let registry: Registry;
  let client: Client;
  let dashboard: DashboardMount;
  const server = http.createServer((req, res) => void dashboard.handle(req, res));
  let base = "";
  let browser: Browser | undefined;

  before(async () => {
    // A port of our own, where a NATS server starts only later.
    const port = await freePort();
    nats = privateNats(port);
    registry = resolveRegistry("nats", `127.0.0.1:${port}`, { logger: quiet });
    client = createClient({ registry, logger: quiet });
    dashboard = createDashboard({ registry, client, broker: new MemoryBroker(), logger: quiet });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  after(async () => {
    await browser?.close();
    dashboard?.close();
    server.close();
    await client?.close();
    await registry?.close().catch(() => {});
    await nats?.dispose();
  });

  it("answers 503 naming the registry, the page says so, and recovers when the registry comes up", async () => {
    const services = await fetch(`${base}dashboard/api/services`);
    assert.equal(services.status, 503);
    assert.match(((await services.json()) as { detail: string }).detail, /the registry \(nats\) cannot be read: .*cannot connect/);
    browser = await launchChromium();
    const page = await browser.newPage();
    page.setDefaultTimeout(SHOW);
    await page.goto(base);
    assert.match(await text(page.locator("[data-testid=registry-problem]")), /the registry \(nats\) cannot be (read|watched)/);

    await nats!.start();
    await page.locator("[data-testid=registry-problem]").waitFor({ state: "detached", timeout: 30_000 });
    await page.locator("text=No services are registered").waitFor();
  });
});

function waitFor(condition: () => boolean, timeout: number, message: string): Promise<void> {
  return waitForAsync(async () => condition(), timeout, message);
}

async function waitForAsync(condition: () => Promise<boolean>, timeout: number, message: string): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The element's text (textContent: no layout involved), "" when it has none. */
async function text(locator: Locator): Promise<string> {
  return (await locator.textContent()) ?? "";
}
