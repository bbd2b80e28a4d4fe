/**
 * Registrants for the scale case of `npm run bench:registry`: one registry client per service
 * (SCALE_FROM … SCALE_TO - 1, named `scale-<i>`), each registering SCALE_NODES node records with
 * a TTL of SCALE_TTL seconds and renewing them every SCALE_INTERVAL seconds, as that many service
 * processes would; with SCALE_SHARED set, one registry client for them all, as one process hosting
 * them all would. Prints `READY <ms to register all>`. With SCALE_REAL set, also runs one real
 * service of that name (its Echo.Echo answers), for the cold client's first call. Runs until
 * killed: the benchmark ends it with SIGKILL, as a crash would.
 */
import { createService } from "../../src/index.js";
import type { Registry, ServiceRecord } from "../../src/registry/registry.js";
import { quietLogger, scaleRecord, scaleRegistry } from "../scale-registry.js";

const from = Number(process.env.SCALE_FROM ?? 0);
const to = Number(process.env.SCALE_TO ?? 0);
const nodes = Number(process.env.SCALE_NODES ?? 10);
const ttl = Number(process.env.SCALE_TTL ?? 30) * 1_000;
const interval = Number(process.env.SCALE_INTERVAL ?? 10) * 1_000;
/** Node id suffix, so the victim's node is told from the others. */
const idPrefix = process.env.SCALE_ID ?? "n";

const registrants: Array<{ registry: Registry; records: ServiceRecord[] }> = [];
const shared = process.env.SCALE_SHARED ? scaleRegistry() : undefined;
const started = Date.now();
// Ten registrants starting at a time, as services coming up on a loaded host.
const queue = Array.from({ length: to - from }, (_, k) => `scale-${from + k}`);
await Promise.all(
  Array.from({ length: 10 }, async () => {
    for (let name = queue.shift(); name; name = queue.shift()) {
      const service = name;
      const registry = shared ?? scaleRegistry();
      const records = Array.from({ length: nodes }, (_, n) => scaleRecord(service, `${idPrefix}${n}`, 20_000 + n));
      for (const record of records) await registry.register(record, { ttl });
      registrants.push({ registry, records });
    }
  }),
);
const took = Date.now() - started;
// Heartbeats, spread evenly over the interval from now on, so that they do not all land at once
// and every node is renewed once in any window of one interval.
for (const [i, { registry, records }] of registrants.entries()) {
  const beat = (): void => void Promise.all(records.map((r) => registry.register(r, { ttl }).catch(() => undefined)));
  setTimeout(
    () => {
      beat();
      setInterval(beat, interval);
    },
    (interval * i) / registrants.length,
  );
}
if (process.env.SCALE_REAL) {
  const service = createService({ name: process.env.SCALE_REAL, address: "127.0.0.1:0", registry: scaleRegistry(), logger: quietLogger });
  service.handle(
    new (class Echo {
      async Echo(req: Record<string, unknown>): Promise<Record<string, unknown>> {
        return req;
      }
    })(),
  );
  await service.start();
}
process.stdout.write(`READY ${took}\n`);
