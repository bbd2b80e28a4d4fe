/**
 * `npm run bench:gateway`: HTTP requests through the ts-micro gateway to an echo service, against
 * the same echo called directly with the ts-micro client, against moleculer-web in front of the
 * same echo on Moleculer's TCP transporter, and against two floors with nothing behind them: a
 * bare node:http echo, and an echo that parses HTTP/1.1 by hand on node:net
 * (servers/net-http-echo.ts, the most HTTP can cost in JavaScript), in one run. c = 64 keep-alive HTTP connections, the benchmark payload,
 * JSON both ways.
 *
 * Requires wrk (a C HTTP load generator: `apt-get install -y wrk`); the run stops with that
 * message when it is missing. `--node-client` uses a Node HTTP client instead
 * (bench/clients/http-load.ts), which costs more CPU per request than the servers it measures, so
 * it measures itself: its figures are a lower bound.
 *
 * Layout on the 2-core machine: what serves (the echo service and the gateway, or the Moleculer
 * echo and moleculer-web, or the bare echo) on core 0, the load generator alone on core 1.
 * Besides req/s and wrk's p50/p99, each HTTP row gives the CPU time the serving processes spent
 * per request (/proc/PID/stat), a figure that holds on a busy machine where req/s does not.
 * Targets: ≥ 1.5× moleculer-web, ≥ 0.5× direct.
 *
 *   npm run bench:gateway              2 s warm-up + 5 s per point
 *   npm run bench:gateway -- --quick   1 s + 2 s
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { checkEcho, loadResult, requireWrk, wrk } from "./clients/wrk.js";
import { cpuSeconds, runClient, runLoad, type Server, startServer } from "./harness.js";
import type { LoadResult } from "./payload.js";
import { freePort } from "./peers/proc.js";

const quick = process.argv.includes("--quick");
const nodeClient = process.argv.includes("--node-client");
const [warmup, seconds] = quick ? [1, 2] : [2, 5];
const concurrency = 64;
const SERVICE_CORE = 0;
const GATEWAY_CORE = 0;
const LOAD_CORE = 1;

if (!nodeClient) requireWrk();
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

/** CPU time (user + system) of process `pid` so far, in µs (0 where there is no /proc). */
const cpuMicros = (pid: number): number => (cpuSeconds(pid) ?? 0) * 1e6;
const hasProc = fs.existsSync("/proc/self/stat");

/** CPU µs per request of all the serving processes, and of the HTTP front (gateway, moleculer-web, bare echo) alone. */
type Row = LoadResult & { cpu_us_per_request?: number; front_cpu_us_per_request?: number };

/** c = 64 POSTs of the payload to `url` after a warm-up; with the CPU the `serving` processes spent per request. */
async function httpLoad(url: string, label: string, serving: Server[]): Promise<Row> {
  if (nodeClient) {
    return runClient<LoadResult>("clients/http-load.js", [url, concurrency, warmup, seconds, label], env, LOAD_CORE);
  }
  await checkEcho(url);
  await wrk(url, concurrency, warmup, LOAD_CORE);
  const pids = serving.flatMap((s) => (s.pid === undefined ? [] : [s.pid]));
  const before = hasProc ? pids.map(cpuMicros) : [];
  const result: Row = loadResult(await wrk(url, concurrency, seconds, LOAD_CORE), label, concurrency);
  if (hasProc) {
    const used = pids.map((pid, i) => cpuMicros(pid) - before[i]);
    const perRequest = (micros: number): number => Math.round((micros / result.calls) * 10) / 10;
    result.cpu_us_per_request = perRequest(used.reduce((a, b) => a + b, 0));
    result.front_cpu_us_per_request = perRequest(used[0]);
  }
  return result;
}

const report = (r: Row): void => {
  process.stdout.write(`${JSON.stringify(r)}\n`);
  const cpu =
    r.cpu_us_per_request === undefined
      ? ""
      : `   CPU/req: servers ${r.cpu_us_per_request.toFixed(1)} µs, HTTP front ${r.front_cpu_us_per_request?.toFixed(1)} µs`;
  process.stderr.write(
    `${r.framework.padEnd(26)} ${String(r.rps).padStart(7)} req/s   p50 ${(r.p50_us / 1000).toFixed(2)} ms   p99 ${(r.p99_us / 1000).toFixed(2)} ms   errors ${r.errors}${cpu}\n`,
  );
};

try {
  process.stderr.write(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}; load generator: ${nodeClient ? "node:http" : "wrk"}\n`,
  );
  const floorServer = await start("servers/http-echo.js", {}, GATEWAY_CORE);
  const floor = await httpLoad(`${floorServer.address}/echo`, "node:http echo (floor)", [floorServer]);
  report(floor);
  stopAll();
  const netServer = await start("servers/net-http-echo.js", {}, GATEWAY_CORE);
  const netFloor = await httpLoad(`${netServer.address}/echo`, "HTTP on node:net echo", [netServer]);
  report(netFloor);
  stopAll();

  const echo = await start("servers/micro-echo.js", {}, SERVICE_CORE);
  const direct = await runLoad("micro", "", concurrency, warmup, seconds, env, LOAD_CORE);
  direct.framework = "ts-micro client (direct)";
  report(direct);

  const gatewayServer = await start("servers/gateway.js", {}, GATEWAY_CORE);
  const gateway = await httpLoad(`${gatewayServer.address}/api/bench-echo/Bench/Echo`, "ts-micro gateway", [gatewayServer, echo]);
  report(gateway);
  stopAll();

  const port = await freePort();
  const moleculer = await start("peers/servers/moleculer.js", { BENCH_TRANSPORTER: "tcp", BENCH_ADDRESS: `127.0.0.1:${port}` }, SERVICE_CORE);
  const web = await start("servers/moleculer-web.js", { BENCH_ADDRESS: `127.0.0.1:${port}` }, GATEWAY_CORE);
  const moleculerWeb = await httpLoad(`${web.address}/api/echo`, "moleculer-web (tcp)", [web, moleculer]);
  report(moleculerWeb);

  const ratio = (a: LoadResult, b: LoadResult): string => (a.rps / b.rps).toFixed(2);
  process.stderr.write(
    `\ngateway / moleculer-web: ${ratio(gateway, moleculerWeb)}× req/s (target ≥ 1.5×); p99 ${(gateway.p99_us / 1000).toFixed(2)} vs ${(moleculerWeb.p99_us / 1000).toFixed(2)} ms\n` +
      `gateway / direct client: ${ratio(gateway, direct)}× req/s (target ≥ 0.5×)\n` +
      `gateway / node:http echo: ${ratio(gateway, floor)}× req/s (the floor: HTTP alone, no RPC behind it)\n` +
      `node:http echo / direct client: ${ratio(floor, direct)}× req/s (how close HTTP/1.1 alone comes to the multiplexed RPC)\n` +
      `HTTP on node:net echo / direct client: ${ratio(netFloor, direct)}× req/s (the same, HTTP parsed by hand: the most JavaScript HTTP can reach)\n` +
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}\n`,
  );
} finally {
  stopAll();
  fs.rmSync(dir, { recursive: true, force: true });
}
