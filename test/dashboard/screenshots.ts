/**
 * `npm run screenshots`: one picture of each dashboard page, with greeter services running, into
 * docs/dashboard-*.png (linked from README.md and docs/dashboard.md). Same setup as the browser
 * test: greeters in their own processes, the dashboard on a loopback port, Debian's chromium.
 */
import path from "node:path";
import { distRoot } from "../process/harness.js";
import { launchChromium, startDashboard } from "./harness.js";

const docs = path.resolve(distRoot, "..", "docs");
const setup = await startDashboard(2);
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  page.setDefaultTimeout(15_000);
  const shoot = async (name: string) => {
    const file = path.join(docs, `dashboard-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`wrote ${path.relative(process.cwd(), file)}`);
  };

  await page.goto(setup.url);
  await page.locator("[data-service=greeter]").waitFor();
  await page.locator("[data-testid=connection].live").waitFor();
  await shoot("services");

  await page.goto(`${setup.url}#/service/greeter/Greeter.Hello`);
  await page.locator("[data-health=ok]").nth(1).waitFor();
  await page.fill("[data-testid=request]", JSON.stringify({ name: "Ada" }, null, 2));
  await page.click("[data-testid=call]");
  await page.locator("[data-testid=response]").waitFor();
  await shoot("call");

  await page.goto(`${setup.url}#/service/greeter/Greeter.Count`);
  await page.fill("[data-testid=request]", JSON.stringify({ to: 6, delayMs: 100 }, null, 2));
  await page.click("[data-testid=call]");
  await page.locator("[data-testid=stream-state]", { hasText: "ended" }).waitFor();
  await shoot("stream");

  // A bidirectional stream from the form: two messages sent, both answered, the stream still open.
  await page.goto(`${setup.url}#/service/greeter/Greeter.Echo`);
  await page.check("[data-testid=interactive]");
  await page.click("[data-testid=call]");
  for (const [i, text] of ["ping", "pong"].entries()) {
    await page.fill("[data-testid=request]", JSON.stringify({ text }, null, 2));
    await page.click("[data-testid=send]");
    await page.locator("[data-testid=received] li").nth(i).waitFor();
  }
  await shoot("bidi");
  await page.click("[data-testid=end]");

  await page.goto(`${setup.url}#/topics`);
  await page.fill("[data-testid=subscribe-topic]", "user.created");
  await page.click("[data-testid=subscribe]");
  await page.locator("[data-testid=feed-state]", { hasText: "live" }).waitFor();
  await page.fill("[data-testid=publish-topic]", "user.created");
  for (const id of [7, 8, 9]) {
    await page.fill("[data-testid=publish-message]", JSON.stringify({ id, name: ["Ada", "Grace", "Linus"][id - 7] }));
    await page.click("[data-testid=publish]");
    await page.locator("[data-testid=feed] li", { hasText: `"id":${id}` }).waitFor();
  }
  await shoot("topics");

  await page.goto(`${setup.url}#/events`);
  await page.fill("[data-testid=publish-topic]", "orders");
  for (const order of [1, 2]) {
    await page.fill("[data-testid=publish-message]", JSON.stringify({ order, total: order * 12.5 }));
    await page.click("[data-testid=publish]");
    await page.locator("[data-testid=published]").waitFor();
  }
  await page.fill("[data-testid=subscribe-topic]", "orders");
  await page.click("[data-testid=subscribe]");
  await page.locator("[data-testid=feed] li").nth(1).waitFor();
  await page.locator("[data-testid=event-topics] tr[data-topic='orders'] td:nth-child(2)", { hasText: /^2$/ }).waitFor();
  await shoot("events");

  await page.goto(`${setup.url}#/service/greeter`);
  await page.locator("[data-node]").nth(1).waitFor();
  await page.locator("[data-health=ok]").nth(1).waitFor();
  await shoot("service");
} finally {
  await browser.close();
  await setup.close();
}
