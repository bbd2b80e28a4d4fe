/**
 * `npm run bench:peers`: ts-micro against Moleculer, NestJS microservices, Go Micro v5 (HTTP and
 * gRPC) and the floors (raw node:net, bare nats.js request/reply), in one run on one machine.
 * Same payload, same echo handler, client and server in separate processes (server on core 0,
 * client on core 1), warm-up, repetitions, median.
 *
 *   npm run bench:peers              c = 1, 16, 64, 256; 3 runs × (2 s warm-up + 2 s); ≈ 13 min
 *   npm run bench:peers -- --quick   c = 1, 64, 256; 1 run × (1 s + 1.5 s); ≈ 2.7 min
 *   … -- --only ts-micro/mux,moleculer/tcp,raw   only these peers (framework, framework/transport,
 *                                                or framework/transport/client for a cross pair)
 *   … -- --concurrency 1,64                      only these concurrencies
 *
 * Prints one JSON line per measurement on stdout and progress on stderr, then a Markdown report
 * (also written to bench/results/latest.md). See bench/README.md, "Peers".
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchDir, median } from "./harness.js";
import { catalog, cleanup, type Peer, peerId } from "./peers/catalog.js";
import { freePort, type Proc, rssMb, spawnPinned, wallMicros } from "./peers/proc.js";
import { markdown, type RpcPoint, type RunInfo, type StartupPoint, type Unavailable } from "./peers/report.js";

const quick = process.argv.includes("--quick");
const option = (name: string): string[] | undefined => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1]?.split(",") : undefined);
const defaults = quick
  ? { concurrencies: [1, 64, 256], repetitions: 1, warmup: 1, seconds: 1.5, startupSamples: 1 }
  : // Every load client is a fresh process: V8 sizes its young generation by what survives, and
    // under this load it reaches its steady size after about 1.7 s; measured earlier, each client
    // would be timed with twice its steady number of collections.
    { concurrencies: [1, 16, 64, 256], repetitions: 3, warmup: 2, seconds: 2, startupSamples: 3 };
const plan = { ...defaults, concurrencies: option("--concurrency")?.map(Number) ?? defaults.concurrencies };
if (!plan.concurrencies.every((c) => Number.isInteger(c) && c > 0)) {
  throw new Error(`--concurrency takes positive whole numbers separated by commas, as in --concurrency 1,64 (got ${option("--concurrency")})`);
}
const only = option("--only");
const SERVER_CORE = 0;
const CLIENT_CORE = 1;

const repoDir = path.resolve(benchDir, "../..");
const live = new Set<Proc>();

/** Spawns and tracks a process, so that an interrupted run leaves none behind. */
function track(proc: Proc): Proc {
  live.add(proc);
  proc.child.once("exit", () => live.delete(proc));
  return proc;
}

const emit = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const label = (peer: Peer): string => `${peer.framework} ${peer.transport}${peer.client ? ` ← ${peer.client}` : ""}`;

let done = 0;
let total = 0;
const started = Date.now();
function progress(text: string): void {
  const elapsed = Math.round((Date.now() - started) / 1_000);
  process.stderr.write(`[${done}/${total} runs, ${Math.floor(elapsed / 60)}m${String(elapsed % 60).padStart(2, "0")}s] ${text}\n`);
}

interface Running {
  server: Proc;
  address: string;
  startupMs: number;
}

/**
 * Starts the peer's server with a probe client already waiting, and times server process start
 * → the probe's first successful call. The server is left running.
 */
async function startTimed(peer: Peer): Promise<Running> {
  const port = await freePort();
  const known = peer.address(port);
  const probe = track(spawnPinned(peer.probe(known ?? "-"), peer.env, CLIENT_CORE));
  try {
    await probe.waitFor(/WAITING/, 20_000);
    const { command, env } = peer.server(port);
    const t0 = wallMicros();
    const server = track(spawnPinned(command, { ...peer.env, ...env }, SERVER_CORE));
    try {
      const ready = await server.waitFor(/READY (\S+)/, 20_000);
      if (known === undefined) probe.send(ready[1]);
      const served = JSON.parse(await probe.lastLine()) as { served_at_us: number };
      return { server, address: known ?? ready[1], startupMs: Math.round((served.served_at_us - t0) / 100) / 10 };
    } catch (err) {
      await server.stop();
      throw err;
    }
  } finally {
    await probe.stop();
  }
}

/**
 * Start-up samples, a fresh server each, in rounds over the peers as the load runs go (a slow
 * stretch of the machine then falls on every peer's samples alike), then the idle RSS of each
 * peer's last server, which stays up (paused) for the load runs. Peers whose server did not start
 * are left out, with the reason.
 */
async function measureStartups(peers: Peer[], unavailable: (peer: Peer, why: string) => void): Promise<Map<Peer, { running: Running; point: StartupPoint }>> {
  const samples = new Map<Peer, number[]>(peers.map((peer) => [peer, []]));
  const last = new Map<Peer, { running: Running; rssMb: number | null }>();
  for (let i = 0; i < plan.startupSamples; i++) {
    for (const peer of inMeasuringOrder([...samples.keys()])) {
      const what = `${label(peer)}: start-up ${i + 1}/${plan.startupSamples}`;
      progress(what);
      try {
        const started = await startTimed(peer);
        samples.get(peer)!.push(started.startupMs);
        progress(`${what}: ${started.startupMs} ms to the first call`);
        if (i < plan.startupSamples - 1) {
          await started.server.stop();
          continue;
        }
        await sleep(1_000); // idle: 1 s after its first call
        last.set(peer, { running: started, rssMb: rssMb(started.server.child.pid) ?? null });
        started.server.pause(true);
      } catch (err) {
        samples.delete(peer);
        unavailable(peer, reason(err));
      }
    }
  }
  const measured = new Map<Peer, { running: Running; point: StartupPoint }>();
  for (const peer of peers) {
    const kept = last.get(peer);
    if (!kept) continue;
    const point: StartupPoint = {
      bench: "startup",
      ...names(peer),
      concurrency: null,
      rps: null,
      p50_us: null,
      p99_us: null,
      rss_mb: kept.rssMb,
      startup_ms: median(samples.get(peer)!, (ms) => ms),
    };
    measured.set(peer, { running: kept.running, point });
  }
  return measured;
}

const names = (peer: Peer): { framework: string; transport: string; client?: string } =>
  peer.client ? { framework: peer.framework, transport: peer.transport, client: peer.client } : { framework: peer.framework, transport: peer.transport };

async function loadOnce(peer: Peer, address: string, concurrency: number): Promise<RpcPoint> {
  const client = track(spawnPinned(peer.load(address, concurrency, plan.warmup, plan.seconds), peer.env, CLIENT_CORE));
  const result = JSON.parse(await client.lastLine()) as { rps: number; p50_us: number; p99_us: number; errors: number };
  return { bench: "rpc", ...names(peer), concurrency, rps: result.rps, p50_us: result.p50_us, p99_us: result.p99_us, rss_mb: null, errors: result.errors };
}

const reason = (err: unknown): string => (err as Error).message.replace(/\s+/g, " ").trim();

/**
 * All load runs at one concurrency. Repetitions go round-robin over the peers (all servers stay
 * up), so a burst of other work on the machine lands on every peer alike instead of on whichever
 * peer was being measured; the ratios stay meaningful on a busy machine. Every other round runs
 * in reverse, so that the peers compared stay side by side (see MEASURING_ORDER) while a
 * disturbance that recurs about once a round does not fall on the same peer's turn every time.
 * The servers not being measured are paused (SIGSTOP): idle as they are, their timers
 * (heartbeats, gossip, registry refreshes) would otherwise run on the measured server's core and
 * show up in its tail latency.
 */
async function measureConcurrency(running: Map<Peer, Running>, concurrency: number, failed: (peer: Peer, why: string) => Promise<void>): Promise<RpcPoint[]> {
  const runs = new Map<Peer, RpcPoint[]>();
  const peers = inMeasuringOrder([...running.keys()]);
  for (let r = 0; r < plan.repetitions; r++) {
    for (const peer of r % 2 === 0 ? peers : [...peers].reverse()) {
      const measured = running.get(peer);
      if (!measured) continue; // failed in an earlier round
      const { address, server } = measured;
      const what = `${label(peer)} c=${concurrency} run ${r + 1}/${plan.repetitions}`;
      progress(what);
      server.pause(false);
      try {
        const point = await loadOnce(peer, address, concurrency);
        runs.set(peer, [...(runs.get(peer) ?? []), point]);
        server.pause(true);
        progress(`${what}: ${point.rps} req/s, p50 ${point.p50_us} µs, p99 ${point.p99_us} µs`);
      } catch (err) {
        await failed(peer, `failed at c=${concurrency}: ${reason(err)}`);
        runs.delete(peer);
      }
      done++;
    }
  }
  // In report order again.
  return [...running.keys()].flatMap((peer) => {
    const points = runs.get(peer);
    return points ? [{ ...medians(points), rss_mb: rssMb(running.get(peer)?.server.child.pid) ?? null }] : [];
  });
}

/**
 * The order of the load runs in a round: peers compared with each other (bench/peers/report.ts)
 * back to back. The machine's speed drifts over a minute or so (bench/README.md, eighth pass);
 * two runs seconds apart see more nearly the same machine than two a round apart.
 */
const MEASURING_ORDER = [
  "ts-micro/mux",
  "raw/tcp",
  "moleculer/tcp",
  "nestjs/tcp",
  "ts-micro/http",
  "ts-micro/nats",
  "moleculer/nats",
  "nats.js/nats",
  "ts-micro/grpc",
  "go-micro/grpc",
  "ts-micro/grpc/go-micro",
  "go-micro/http",
];

function inMeasuringOrder(peers: Peer[]): Peer[] {
  const rank = (peer: Peer): number => {
    const at = MEASURING_ORDER.indexOf(peerId(peer));
    return at === -1 ? MEASURING_ORDER.length : at;
  };
  return [...peers].sort((a, b) => rank(a) - rank(b));
}

/**
 * The median of each figure on its own: one run's p99 is the noisiest figure of all (a single
 * preemption of either process moves it), so it is not taken from whichever run had the median
 * req/s.
 */
function medians(points: RpcPoint[]): RpcPoint {
  const of = (key: "rps" | "p50_us" | "p99_us"): number => median(points, (x) => x[key])[key];
  return { ...points[0], rps: of("rps"), p50_us: of("p50_us"), p99_us: of("p99_us"), errors: points.reduce((sum, x) => sum + x.errors, 0) };
}

function runInfo(): RunInfo {
  const go =
    spawnSync(process.env.GO ?? "go", ["version"], { encoding: "utf8" }).stdout?.trim() ||
    spawnSync("/usr/local/go/bin/go", ["version"], { encoding: "utf8" }).stdout?.trim();
  const moleculer = readVersion("moleculer");
  const nest = readVersion("@nestjs/microservices");
  const [load1] = os.loadavg();
  return {
    mode: quick ? "Quick run (`--quick`)" : "Full run",
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? "unknown CPU"}, ${os.platform()}`,
    versions: `Node ${process.version}, moleculer ${moleculer}, @nestjs/microservices ${nest}, @nats-io/transport-node ${readVersion("@nats-io/transport-node")}, ${go || "no Go"}, Go Micro v5.30.0`,
    load: `Load average when the run started: ${load1.toFixed(2)}${load1 > 0.5 ? " (other work was running: figures are noisy)" : ""}.`,
    method:
      `Closed loops at c = ${plan.concurrencies.join(", ")}; ${plan.repetitions} run(s) per point of ${plan.warmup} s warm-up + ${plan.seconds} s measured, ` +
      `median of each figure; peers measured in turn, those compared with each other back to back, every other round in reverse; servers not being measured paused; server on core ${SERVER_CORE}, client on core ${CLIENT_CORE} (taskset; Go with GOMAXPROCS=1). Start-up: median of ${plan.startupSamples}, sampled in rounds over the peers as the load runs are.`,
  };
}

function readVersion(pkg: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(repoDir, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

function stopAll(): void {
  for (const proc of live) proc.child.kill("SIGKILL");
}

async function main(): Promise<void> {
  process.once("SIGINT", () => {
    stopAll();
    process.exit(130);
  });
  process.once("SIGTERM", () => {
    stopAll();
    process.exit(143);
  });
  const info = runInfo();
  const wanted = (p: Pick<Peer, "framework" | "transport" | "client">): boolean =>
    !only || only.includes(p.framework) || only.includes(`${p.framework}/${p.transport}`) || only.includes(peerId(p));
  const peers = await catalog(benchDir, path.join(repoDir, "bench", "go"), wanted);
  const rpc: RpcPoint[] = [];
  const startup: StartupPoint[] = [];
  const missing: Unavailable[] = [];
  const unavailable = (peer: Peer, reason: string): void => {
    const line: Unavailable = { bench: "peers", ...names(peer), unavailable: reason };
    emit(line);
    missing.push(line);
  };
  const running = new Map<Peer, Running>();
  const failed = async (peer: Peer, why: string): Promise<void> => {
    await running.get(peer)?.server.stop();
    running.delete(peer);
    unavailable(peer, why);
  };
  try {
    for (const peer of peers) if (peer.unavailable) unavailable(peer, peer.unavailable);
    // Start-up and idle memory; each peer's last server stays up for the load.
    for (const [peer, measured] of await measureStartups(
      peers.filter((peer) => !peer.unavailable),
      unavailable,
    )) {
      running.set(peer, measured.running);
      emit(measured.point);
      startup.push(measured.point);
    }
    total = running.size * plan.concurrencies.length * plan.repetitions;
    for (const concurrency of plan.concurrencies) {
      for (const point of await measureConcurrency(running, concurrency, failed)) {
        emit(point);
        rpc.push(point);
      }
    }
  } finally {
    stopAll();
    cleanup(peers);
  }
  const report = markdown(info, rpc, startup, missing);
  process.stdout.write(`\n${report}`);
  const resultsDir = path.join(repoDir, "bench", "results");
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, "latest.md"), report);
  progress(`done; report written to ${path.relative(process.cwd(), path.join(resultsDir, "latest.md"))}`);
}

await main();
