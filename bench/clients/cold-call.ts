/**
 * A cold client for the scale case of `npm run bench:registry`: a new process, nothing cached, a
 * registry of 2,000 node records. Prints `{"firstCallMs", "lookupMs", "connectedLookupMs", "found"}`: the
 * first call to SCALE_REAL (client created, service looked up, connection opened, answer back),
 * then, on a separate registry client, a lookup of one scale service that includes connecting,
 * and one more of another service once connected (`found`: the nodes each lookup returned, of 10).
 */
import { createClient } from "../../src/index.js";
import { quietLogger, scaleRegistry } from "../scale-registry.js";

const since = (start: number): number => Math.round((performance.now() - start) * 10) / 10;
let start = performance.now();
const client = createClient({ registry: scaleRegistry(), logger: quietLogger, retries: 0 });
await client.call(process.env.SCALE_REAL ?? "", "Echo.Echo", { hello: 1 }, { timeout: 10_000 });
const firstCallMs = since(start);

const registry = scaleRegistry();
start = performance.now();
const first = await registry.getService("scale-123");
const lookupMs = since(start);
start = performance.now();
const second = await registry.getService("scale-77");
const connectedLookupMs = since(start);
const found = [first, second].map((services) => services.reduce((n, s) => n + s.nodes.length, 0));
process.stdout.write(`${JSON.stringify({ firstCallMs, lookupMs, connectedLookupMs, found })}\n`);
process.exit(0);
