/**
 * Overloads the reports service and shows what comes back: built reports, 503s with a Retry-After
 * hint, 429s from the rate-limited endpoint; a cached call; and a bad order that is dead-lettered.
 */
import { createClient, RetryLaterError } from "ts-micro";

const client = createClient({ retries: 0 });
const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => "ok",
    (err: unknown) => (err instanceof RetryLaterError ? `${err.code} (retry after ${err.retryAfter} ms)` : String(err)),
  );
const tally = (results: string[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
};

// 20 reports at once against 2 running + 2 waiting: 4 are built, 16 are refused at once.
console.log("Build x20:", tally(await Promise.all(Array.from({ length: 20 }, (_, id) => outcome(client.call("reports", "Reports.Build", { id }))))));
// 5 exports one after the other against 1 a second: 1 passes, 4 get 429.
const exports: string[] = [];
for (let id = 0; id < 5; id++) exports.push(await outcome(client.call("reports", "Reports.Export", { id })));
console.log("Export x5:", tally(exports));
// The same export asked twice within 10 s: the second answer comes from the client's cache.
await new Promise((resolve) => setTimeout(resolve, 1_000));
const first = await client.call("reports", "Reports.Export", { id: 7 }, { cache: 10_000 });
const second = await client.call("reports", "Reports.Export", { id: 7 }, { cache: 10_000 });
console.log("cached export:", first, second, `(hits ${client.cache.hits})`);
// A bad order: its handler fails 5 times (with backoff), then it goes to orders.created.dlq.
await client.publish("orders.created", { id: 1, items: 3 });
await client.publish("orders.created", { id: 2, items: 0 });
console.log("published two orders; the server prints the dead letter");
await client.close();
