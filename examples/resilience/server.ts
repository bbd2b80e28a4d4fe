/**
 * A service that protects itself: at most 2 reports built at once and 2 waiting (the rest get 503
 * with a Retry-After hint), `Reports.Export` limited to 1 call a second (429 beyond), and a
 * subscriber that fails on bad orders, whose messages end up on `orders.created.dlq` after 5
 * attempts. See docs/resilience.md.
 */
import { type Context, createService, MicroError } from "ts-micro";

const service = createService({
  name: "reports",
  limits: { concurrency: 2, queue: 2, rates: { "Reports.Export": { rate: 1, burst: 1 } } },
});

class Reports {
  /** Slow on purpose: 200 ms a report. */
  async Build(req: { id: number }, _ctx: Context): Promise<{ id: number; rows: number }> {
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { id: req.id, rows: 42 };
  }
  async Export(req: { id: number }): Promise<{ id: number; url: string }> {
    return { id: req.id, url: `/exports/${req.id}.csv` };
  }
}

service.handle(new Reports());
service.subscribe<{ id: number; items: number }>("orders.created", async (order) => {
  if (order.items <= 0) throw MicroError.badRequest(service.name, `order ${order.id} has no items`);
  console.log(`order ${order.id}: ${order.items} items`);
});
service.subscribe<{ id: number }>("orders.created.dlq", async (order, ctx) => {
  const why = ctx.metadata.get("Micro-Dead-Letter-Reason");
  const attempts = ctx.metadata.get("Micro-Dead-Letter-Attempts");
  console.log(`dead letter: order ${order.id} after ${attempts} attempts: ${why}`);
});

await service.run();
