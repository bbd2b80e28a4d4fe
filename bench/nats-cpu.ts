/**
 * CPU time per call of the NATS rows of bench:peers (ts-micro, Moleculer NATS, bare nats.js):
 * for each process (server, client, nats-server), utime + stime over a measured window divided
 * by the calls made in it. On a machine shared with other work req/s moves with everyone else's
 * load; CPU per call barely does, so A/B comparisons of the transport's cost use this.
 *
 *   node dist/bench/nats-cpu.js [--c 64] [--rounds 5] [--seconds 3] [--warmup 2] [--only ts-micro,moleculer,nats.js]
 *                               [--base <dir>[,<dir>…]]
 *
 * --base adds a ts-micro row per directory, `ts-micro@<its name>`, run from another build's dist/bench (say,
 * of the commit before a change, with this script copied in): an A/B in one interleaved run.
 *
 * Starts its own nats-server (on a free port, so that nobody else's traffic is counted), the
 * peers' echo servers from bench/peers/catalog.ts (server on core 0, client on core 1, as
 * bench:peers does), and goes round-robin over the peers for `rounds` rounds, the servers not
 * being measured paused. The client is this script in `client` mode: the same callers as
 * bench:peers (bench/peers/callers.ts), with a loop that reads /proc at the window's edges.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchDir, cpuTimes, median } from "./harness.js";
import type { Peer } from "./peers/catalog.js";
import { freePort, type Proc, spawnPinned } from "./peers/proc.js";

/** Write syscalls a process has made, from /proc/<pid>/io: how well its replies are batched. */
function writes(pid: number): number {
  return Number(/syscw: (\d+)/.exec(fs.readFileSync(`/proc/${pid}/io`, "utf8"))?.[1]);
}

/** utime and stime of a process in µs. */
function cpuMicros(pid: number): { user: number; system: number } {
  const { user, system } = cpuTimes(pid) ?? { user: 0, system: 0 };
  return { user: user * 1_000_000, system: system * 1_000_000 };
}

const arg = (name: string, fallback: string): string => {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : process.argv[at + 1];
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Sample {
  peer: string;
  calls: number;
  rps: number;
  client_us: number;
  server_us: number;
  nats_us: number;
  /** The server's share of system time (kernel: socket reads and writes), µs per call. */
  server_sys_us: number;
  /** Calls per write syscall, for the server and the client. */
  server_batch: number;
  client_batch: number;
  /** Call latency in the measured window, µs. */
  p50_us: number;
  p99_us: number;
}

/** Client mode: warm up, then count calls and read every process's CPU at the window's edges. */
async function client(): Promise<void> {
  const [, , , caller, address, concurrency, warmup, seconds, serverPid, natsPid] = process.argv;
  const { connect } = await import("./peers/callers.js");
  let c: Awaited<ReturnType<typeof connect>> | undefined;
  for (const deadline = Date.now() + 30_000; !c && Date.now() < deadline; await sleep(5)) {
    const candidate = await connect(caller, address).catch(() => undefined);
    if (
      candidate &&
      (await candidate.call().then(
        () => true,
        () => false,
      ))
    )
      c = candidate;
  }
  if (!c) throw new Error(`${caller}: no successful call within 30 s`);
  const conn = c;
  let measuring = false;
  let stop = false;
  let calls = 0;
  // Latencies of the measured calls, µs (grown as needed).
  let latencies = new Float64Array(1 << 20);
  const worker = async (): Promise<void> => {
    while (!stop) {
      const started = performance.now();
      await conn.call();
      if (!measuring) continue;
      if (calls === latencies.length) {
        const grown = new Float64Array(calls * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[calls++] = (performance.now() - started) * 1_000;
    }
  };
  const workers = Array.from({ length: Number(concurrency) }, worker);
  await sleep(Number(warmup) * 1_000);
  const pids = [process.pid, Number(serverPid), Number(natsPid)];
  const before = pids.map(cpuMicros);
  const writesBefore = pids.slice(0, 2).map(writes);
  const t0 = performance.now();
  measuring = true;
  await sleep(Number(seconds) * 1_000);
  measuring = false;
  const after = pids.map(cpuMicros);
  const writesAfter = pids.slice(0, 2).map(writes);
  const elapsed = (performance.now() - t0) / 1_000;
  const n = calls;
  stop = true;
  await Promise.all(workers);
  const sorted = latencies.subarray(0, n).sort();
  const percentile = (p: number): number => Math.round(sorted[Math.min(n - 1, Math.floor(n * p))] ?? 0);
  const round = (us: number): number => Math.round((us / n) * 10) / 10;
  const per = (i: number): number => round(after[i].user + after[i].system - before[i].user - before[i].system);
  const batch = (i: number): number => Math.round((n / Math.max(1, writesAfter[i] - writesBefore[i])) * 10) / 10;
  const sample = {
    calls: n,
    rps: Math.round(n / elapsed),
    client_us: per(0),
    server_us: per(1),
    nats_us: per(2),
    server_sys_us: round(after[1].system - before[1].system),
    server_batch: batch(1),
    client_batch: batch(0),
    p50_us: percentile(0.5),
    p99_us: percentile(0.99),
  };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
  process.exit(0);
}

/** The bench directory of peers run from another build (--base). */
const builds = new Map<Peer, string>();

/** `peer` with its server and client from the build whose bench directory is `dir`. */
function fromBuild(peer: Peer, dir: string): Peer {
  const other: Peer = {
    ...peer,
    framework: `${peer.framework}@${path.basename(path.resolve(dir, "../.."))}`,
    // A registry of its own, so that its clients find only its server.
    env: { ...peer.env, MICRO_REGISTRY_ADDRESS: fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-nats-cpu-base-")) },
    server: (port) => {
      const { command, env } = peer.server(port);
      return { command: { ...command, file: path.join(dir, path.relative(benchDir, command.file)) }, env };
    },
  };
  builds.set(other, dir);
  return other;
}

/** The load-client name in bench/peers/callers.ts for a catalog peer. */
function callerName(peer: Peer): string {
  if (peer.framework === "moleculer") return `moleculer-${peer.transport}`;
  if (peer.framework === "nats.js") return "natsjs";
  return "ts-micro";
}

async function parent(): Promise<void> {
  const concurrency = Number(arg("c", "64"));
  const rounds = Number(arg("rounds", "5"));
  const seconds = arg("seconds", "3");
  const warmup = arg("warmup", "2");
  const only = arg("only", "ts-micro,moleculer,nats.js").split(",");
  const natsPort = await freePort();
  const nats = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(natsPort)], { stdio: "ignore" });
  const live: Proc[] = [];
  const stopAll = (): void => {
    for (const proc of live) proc.child.kill("SIGKILL");
    nats.kill("SIGKILL");
  };
  process.once("SIGINT", () => {
    stopAll();
    process.exit(130);
  });
  try {
    await sleep(300);
    // catalog.ts reads the NATS address when it is loaded.
    process.env.BENCH_NATS_ADDRESS = `127.0.0.1:${natsPort}`;
    const { catalog, cleanup } = await import("./peers/catalog.js");
    const peers = await catalog(benchDir, path.resolve(benchDir, "../../bench/go"), (p) => p.transport === "nats" && only.includes(p.framework));
    const bases = process.argv.includes("--base")
      ? arg("base", "")
          .split(",")
          .map((dir) => path.resolve(dir, "dist", "bench"))
      : [];
    const tsMicro = peers.find((p) => p.framework === "ts-micro");
    if (tsMicro) peers.unshift(...bases.map((base) => fromBuild(tsMicro, base)));
    const servers = new Map<Peer, { proc: Proc; address: string }>();
    try {
      for (const peer of peers) {
        if (peer.unavailable) throw new Error(`${peer.framework}: ${peer.unavailable}`);
        const port = await freePort();
        const { command, env } = peer.server(port);
        const proc = spawnPinned(command, { ...peer.env, ...env }, 0);
        live.push(proc);
        const ready = await proc.waitFor(/READY (\S+)/, 20_000);
        proc.pause(true);
        servers.set(peer, { proc, address: peer.address(port) ?? ready[1] });
      }
      const samples: Sample[] = [];
      for (let round = 0; round < rounds; round++) {
        for (const [peer, { proc, address }] of servers) {
          proc.pause(false);
          const args = ["client", callerName(peer), address, String(concurrency), warmup, seconds, String(proc.child.pid), String(nats.pid)];
          const load = spawnPinned({ file: path.join(builds.get(peer) ?? benchDir, "nats-cpu.js"), node: true, args }, peer.env, 1);
          const sample = { peer: peer.framework, ...(JSON.parse(await load.lastLine()) as Omit<Sample, "peer">) };
          proc.pause(true);
          samples.push(sample);
          process.stdout.write(`${JSON.stringify({ round: round + 1, load1: Number(os.loadavg()[0].toFixed(2)), ...sample })}\n`);
        }
      }
      summary(samples, concurrency);
    } finally {
      cleanup(peers);
    }
  } finally {
    stopAll();
  }
}

function summary(samples: Sample[], concurrency: number): void {
  process.stdout.write(
    `\nc=${concurrency}, load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}; µs of CPU per call, median (min)\n`,
  );
  process.stdout.write(
    "| peer | server | (of it system) | client | nats-server | req/s | p50 µs | p99 µs | calls per write (server, client) | cores busy |\n|---|---|---|---|---|---|---|---|---|---|\n",
  );
  for (const peer of [...new Set(samples.map((s) => s.peer))]) {
    const mine = samples.filter((s) => s.peer === peer);
    // CPU the three processes used per second: how much their work overlapped rather than took turns.
    const busy = (s: Sample): number => (s.rps * (s.client_us + s.server_us + s.nats_us)) / 1e6;
    const coresBusy = busy(median(mine, busy)).toFixed(2);
    const cell = (key: "server_us" | "server_sys_us" | "client_us" | "nats_us"): string =>
      `${median(mine, (s) => s[key])[key]} (${Math.min(...mine.map((s) => s[key]))})`;
    process.stdout.write(
      `| ${peer} | ${cell("server_us")} | ${cell("server_sys_us")} | ${cell("client_us")} | ${cell("nats_us")} | ${median(mine, (s) => s.rps).rps} | ${median(mine, (s) => s.p50_us).p50_us} | ${median(mine, (s) => s.p99_us).p99_us} | ${median(mine, (s) => s.server_batch).server_batch}, ${median(mine, (s) => s.client_batch).client_batch} | ${coresBusy} |\n`,
    );
  }
}

await (process.argv[2] === "client" ? client() : parent());
