/**
 * A watching client for the scale case of `npm run bench:registry`: a registry cache holding every
 * service `scale-0` … `scale-<SCALE_SERVICES - 1>` (so one watch per service, as a client calling
 * all of them has). Prints `READY {"heapBytes", "fillMs", "nodesAfterFill", "completeMs", "nodes"}`:
 * the heap the filled cache holds (after GC, with --expose-gc), how long the lookups took and how
 * many nodes they found, and when the cache held every node. Then:
 * - `DROPPED <ms since epoch>` when node SCALE_VICTIM is no longer in scale-0's entry;
 * - on a line `mark` on stdin, `MARK {"bytes", "events", "at"}`: bytes read from its sockets and
 *   watch events received so far.
 */
import readline from "node:readline";
import { CacheRegistry } from "../../src/registry/cache.js";
import type { Registry, WatchEvent, Watcher, WatchOptions } from "../../src/registry/registry.js";
import { bytesRead, countSocketBytes, quietLogger, scaleRegistry } from "../scale-registry.js";

countSocketBytes();
const services = Number(process.env.SCALE_SERVICES ?? 200);
const victim = process.env.SCALE_VICTIM ?? "";
let events = 0;
const FILL_CONCURRENCY = 8;

/** The registry, its watchers counting the events they deliver. */
function counting(inner: Registry): Registry {
  return {
    name: inner.name,
    register: (s, o) => inner.register(s, o),
    deregister: (s) => inner.deregister(s),
    getService: (name) => inner.getService(name),
    listServices: () => inner.listServices(),
    close: () => inner.close(),
    watch(options?: WatchOptions): Watcher {
      const watcher = inner.watch(options);
      const next = async (): Promise<IteratorResult<WatchEvent>> => {
        const result = await watcher.next();
        if (!result.done) events++;
        return result;
      };
      return { next, stop: () => watcher.stop(), [Symbol.asyncIterator]: () => ({ next }) };
    },
  };
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const inner = counting(scaleRegistry());
// Connected first, so the heap figure is the cache's, not the driver's.
await inner.getService("scale-none");
gc();
gc();
const before = process.memoryUsage().heapUsed;
const cache = new CacheRegistry(inner, { logger: quietLogger });
const names = Array.from({ length: services }, (_, i) => `scale-${i}`);
const cachedNodes = (): number => names.reduce((n, name) => n + (cache.getCached(name) ?? []).reduce((m, s) => m + s.nodes.length, 0), 0);
const started = Date.now();
// FILL_CONCURRENCY lookups at a time, as a client warming up; a failed lookup is tried again.
const queue = [...names];
await Promise.all(
  Array.from({ length: FILL_CONCURRENCY }, async () => {
    for (let name = queue.shift(); name; name = queue.shift()) await cache.getService(name).catch(() => cache.getService(name!));
  }),
);
const fillMs = Date.now() - started;
const nodesAfterFill = cachedNodes();
// A lookup may miss late answers (NATS collects them for 100 ms); the watches' events (NATS
// heartbeats re-announce every node) complete the entries. Bounded.
const expected = services * Number(process.env.SCALE_NODES ?? 10) + 1;
while (cachedNodes() < expected && Date.now() - started < 45_000) await new Promise((resolve) => setTimeout(resolve, 100));
const completeMs = Date.now() - started;
gc();
gc();
const heapBytes = process.memoryUsage().heapUsed - before;
process.stdout.write(`READY ${JSON.stringify({ heapBytes, fillMs, nodesAfterFill, completeMs, nodes: cachedNodes() })}\n`);

let seen = false;
const poll = setInterval(() => {
  const entry = cache.getCached("scale-0");
  if (!entry) return;
  const present = entry.some((s) => s.nodes.some((n) => n.id === victim));
  if (present) seen = true;
  else if (seen) {
    process.stdout.write(`DROPPED ${Date.now()}\n`);
    clearInterval(poll);
  }
}, 2);

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "mark") process.stdout.write(`MARK ${JSON.stringify({ bytes: bytesRead(), events, at: Date.now() })}\n`);
});
