/**
 * `npm run bench:gateway`: HTTP requests through the ts-micro gateway to an echo service, against
 * the same echo called directly with the ts-micro client, and against moleculer-web in front of
 * the same echo on Moleculer's TCP transporter, and against a bare node:http echo (the floor: HTTP
 * with nothing behind it), in one run. c = 64 keep-alive HTTP connections
 * (node:http agents), the benchmark payload, JSON both ways.
 *
 * Layout on the 2-core machine: what serves (the echo service and the gateway, or the Moleculer
 * echo and moleculer-web, or the bare echo) on core 0, the load generator alone on core 1: the
 * HTTP client is the costliest process of all, and sharing its core with the echo service left
 * the gateway half idle while the echo and the load generator fought over the other core.
 * Targets: ≥ 1.5× moleculer-web, ≥ 0.5× direct.
 *
 *   npm run bench:gateway              2 s warm-up + 5 s per point
 *   npm run bench:gateway -- --quick   1 s + 2 s
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { runClient, runLoad, type Server, startServer } from "./harness.js";
import type { LoadResult } from "./payload.js";
import { freePort } from "./peers/proc.js";

const quick = process.argv.includes("--quick");
const [warmup, seconds] = quick ? [1, 2] : [2, 5];
const concurrency = 64;
const SERVICE_CORE = 0;
const GATEWAY_CORE = 0;
const LOAD_CORE = 1;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-bench-gateway-"));
const env = { MICRO_REGISTRY_ADDRESS: dir };
const servers: Server[] = [];
const start = async (script: string, extra: Record<string, string>, core: number): Promise<Server> => {
  const server = await startServer(script, { ...env, ...extra }, core);
  servers.push(server);
  return server;
};
const stopAll = (): void => {
  for (const server of servers.splice(0)) server.stop();
};
process.on("exit", stopAll);

const httpLoad = (url: string, label: string): Promise<LoadResult> =>
  runClient<LoadResult>("clients/http-load.js", [url, concurrency, warmup, seconds, label], env, LOAD_CORE);
const report = (r: LoadResult): void => {
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.stderr.write(
    `${r.framework.padEnd(26)} ${String(r.rps).padStart(7)} req/s   p50 ${(r.p50_us / 1000).toFixed(2)} ms   p99 ${(r.p99_us / 1000).toFixed(2)} ms   errors ${r.errors}\n`,
  );
};

try {
  const floor = await start("servers/http-echo.js", {}, GATEWAY_CORE);
  const bare = await httpLoad(`${floor.address}/echo`, "node:http echo (floor)");
  report(bare);
  stopAll();

  await start("servers/micro-echo.js", {}, SERVICE_CORE);
  const direct = await runLoad("micro", "", concurrency, warmup, seconds, env, LOAD_CORE);
  direct.framework = "ts-micro client (direct)";
  report(direct);

  const gateway = await start("servers/gateway.js", {}, GATEWAY_CORE);
  const viaGateway = await httpLoad(`${gateway.address}/api/bench-echo/Bench/Echo`, "ts-micro gateway");
  report(viaGateway);
  stopAll();

  const port = await freePort();
  await start("peers/servers/moleculer.js", { BENCH_TRANSPORTER: "tcp", BENCH_ADDRESS: `127.0.0.1:${port}` }, SERVICE_CORE);
  const web = await start("servers/moleculer-web.js", { BENCH_ADDRESS: `127.0.0.1:${port}` }, GATEWAY_CORE);
  const viaMoleculer = await httpLoad(`${web.address}/api/echo`, "moleculer-web (tcp)");
  report(viaMoleculer);

  const ratio = (a: LoadResult, b: LoadResult): string => (a.rps / b.rps).toFixed(2);
  process.stderr.write(
    `\ngateway / moleculer-web: ${ratio(viaGateway, viaMoleculer)}× req/s (target ≥ 1.5×); p99 ${(viaGateway.p99_us / 1000).toFixed(2)} vs ${(viaMoleculer.p99_us / 1000).toFixed(2)} ms\n` +
      `gateway / direct client: ${ratio(viaGateway, direct)}× req/s (target ≥ 0.5×)\n` +
      `gateway / node:http echo: ${ratio(viaGateway, bare)}× req/s (the floor: HTTP alone, no RPC behind it)\n`,
  );
} finally {
  stopAll();
  fs.rmSync(dir, { recursive: true, force: true });
}
