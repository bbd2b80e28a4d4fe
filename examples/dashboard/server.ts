/**
 * The web dashboard on its own HTTP server: `node dist/examples/dashboard/server.js` (after
 * `npm run build`), then open http://127.0.0.1:8082/. `micro gateway` serves the same dashboard at
 * "/" beside its API routes; this is how to embed it in any node:http (or Express) server.
 * It sees what the registry, broker and events stream named by the environment see
 * (MICRO_REGISTRY, MICRO_BROKER, MICRO_EVENTS), as a service would.
 */
import http from "node:http";
import { createClient, resolveBroker, resolveEvents, resolveRegistry } from "ts-micro";
import { createDashboard } from "ts-micro/gateway/dashboard";

const registry = resolveRegistry();
const broker = resolveBroker(undefined, undefined, { registry });
const client = createClient({ registry, broker });
const dashboard = createDashboard({ registry, client, broker, events: resolveEvents() });

const port = Number(process.env.PORT ?? 8082);
const server = http.createServer((req, res) => void dashboard.handle(req, res));
server.on("upgrade", (req, socket, head) => dashboard.upgrade(req, socket, head)); // streams the call form writes to
server.listen(port, "127.0.0.1", () => console.log(`dashboard on http://127.0.0.1:${port}/`));

process.once("SIGINT", () => {
  dashboard.close();
  server.close();
  void Promise.all([client.close(), broker.disconnect(), registry.close()]);
});
