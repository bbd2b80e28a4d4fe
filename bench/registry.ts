/**
 * `npm run bench:registry`: what discovery costs.
 *
 * 1. Lookup cost per call with 1,000 services × 10 nodes cached: the client's path (the cache's
 *    getCached plus the selector's pick), next to a bare Map.get (the floor) and to asking the
 *    registry on every call (what a client without the cache would pay, in-process memory registry).
 * 2. From a node's registration to its first call from another process, per registry: the caller
 *    has already looked the service up (so its cache watches it), the node starts and registers,
 *    and the caller calls every millisecond until a call succeeds. Median of 5.
 *    local: a temp dir; nats: the NATS server on 127.0.0.1:4222; etcd: an etcd started here on
 *    127.0.0.1:23796; mdns: two network namespaces on a private link (needs root).
 * 3. Scale, on etcd (started here on 127.0.0.1:23798) and NATS (127.0.0.1:4222, on subjects of
 *    this run's own): 200 services × 10 nodes = 2,000 node records, registered by 200 registry
 *    clients in 4 processes (TTL 30 s, renewed every 10 s), 5 watching clients in other processes
 *    each caching all 200 services, and one more node (TTL 5 s) in a process of its own. Reports
 *    the heap of one client's filled cache, registration time, watch traffic per change and at
 *    rest (bytes read by a watcher's sockets and watch events it received), the time from that
 *    node's process being killed with SIGKILL to every watcher dropping it, and a cold client's
 *    first call and lookup. `--no-scale` leaves it out, `--scale-only` runs only it.
 *    The registrants run one registry client per service, 50 in a process: a process then does
 *    the work of 50 service processes (on NATS, every query reaches every registry, and each reads
 *    and decodes it on a connection of its own), as a host running 50 services would, but in one
 *    event loop. `--scale-one-registry` runs one registry client per registrant process instead
 *    (50 services each), as one process per host would.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CacheRegistry } from "../src/registry/cache.js";
import { MemoryRegistry } from "../src/registry/memory.js";
import type { Registry, ServiceRecord } from "../src/registry/registry.js";
import { Selector } from "../src/selector/selector.js";
import { makeService } from "../test/conformance/registry.js";
import { createNetnsPair, type NetnsPair } from "../test/setup/netns.js";
import { canConnect, type OwnedServer, privateEtcd } from "../test/setup/servers.js";
import { benchDir } from "./harness.js";
import { scaleRecord, scaleRegistry } from "./scale-registry.js";

const quick = process.argv.includes("--quick");
const oneRegistryPerProcess = process.argv.includes("--scale-one-registry");
const SERVICES = 1_000;
const NODES = 10;

async function lookupCost(): Promise<void> {
  const memory = new MemoryRegistry();
  const cache = new CacheRegistry(memory);
  const selector = new Selector();
  const names = Array.from({ length: SERVICES }, (_, i) => `bench-${i}`);
  for (const name of names)
    await memory.register(
      makeService(
        name,
        "1.0.0",
        Array.from({ length: NODES }, (_, n) => `n${n}`),
      ),
    );
  for (const name of names) await cache.getService(name);
  const floor = new Map(names.map((name) => [name, memory]));
  const ops = quick ? 500_000 : 3_000_000;

  const report = (label: string, start: bigint, n: number): number => {
    const ns = Number(process.hrtime.bigint() - start) / n;
    process.stdout.write(`  ${label.padEnd(52)} ${ns.toFixed(0).padStart(8)} ns/op\n`);
    return ns;
  };
  const timeSync = (label: string, n: number, op: (i: number) => unknown): number => {
    let sink = 0;
    for (let i = 0; i < 100_000; i++) sink += op(i) ? 1 : 0; // warm-up
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += op(i) ? 1 : 0;
    if (sink < 0) process.stdout.write(""); // keeps the results alive
    return report(label, start, n);
  };
  const timeAsync = async (label: string, n: number, op: (i: number) => Promise<unknown>): Promise<number> => {
    for (let i = 0; i < 10_000; i++) await op(i);
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await op(i);
    return report(label, start, n);
  };
  process.stdout.write(`lookup cost per call, ${SERVICES} services × ${NODES} nodes:\n`);
  const floorNs = timeSync("floor: Map.get", ops, (i) => floor.get(names[i % SERVICES]));
  const cachedNs = timeSync("cache.getCached + selector.select (the call path)", ops, (i) => {
    const name = names[i % SERVICES];
    return selector.select(name, cache.getCached(name)!);
  });
  const uncachedNs = await timeAsync("registry.getService every call (no cache)", quick ? 20_000 : 100_000, (i) => memory.getService(names[i % SERVICES]));
  process.stdout.write(
    `  cached path: ${(cachedNs / floorNs).toFixed(1)}× the floor; ${(uncachedNs / cachedNs).toFixed(0)}× cheaper than asking the registry each call\n`,
  );
  await cache.close();
  await memory.close();
}

interface Child {
  child: ChildProcess;
  output: () => string;
}

function run(command: string, args: string[], env: Record<string, string>): Child {
  const child = spawn(command, args, { env: { ...process.env, MICRO_LOG_LEVEL: "silent", ...env }, stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  return { child, output: () => output };
}

async function waitFor(proc: Child, pattern: RegExp, timeout = 20_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const match = pattern.exec(proc.output());
    if (match) return match;
    if (Date.now() > deadline || proc.child.exitCode !== null) throw new Error(`no ${pattern} in: ${proc.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

interface Where {
  env: Record<string, string>;
  /** Wraps a command to run it where the caller / the node live (network namespaces for mdns). */
  caller: (args: string[]) => [string, string[]];
  node: (args: string[]) => [string, string[]];
  nodeEnv?: Record<string, string>;
}

async function registrationToFirstCall(registry: string, where: Where, runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const service = `bench-${registry}-${i}`; // short: an mDNS node id must fit in a 63-byte DNS label
    const [callerCmd, callerArgs] = where.caller([path.join(benchDir, "clients", "first-call.js"), service]);
    const caller = run(callerCmd, callerArgs, where.env);
    await waitFor(caller, /WAITING/);
    const [nodeCmd, nodeArgs] = where.node([path.join(benchDir, "servers", "registered-node.js")]);
    const node = run(nodeCmd, nodeArgs, { ...where.env, ...where.nodeEnv, SERVICE_NAME: service, MICRO_REGISTER_TTL: "10", MICRO_REGISTER_INTERVAL: "3" });
    try {
      const [, , registeredAt] = await waitFor(node, /READY (\S+) (\d+)/);
      const [line] = await waitFor(caller, /\{"firstCallAt":\d+\}/);
      times.push((JSON.parse(line) as { firstCallAt: number }).firstCallAt - Number(registeredAt));
    } finally {
      node.child.kill("SIGTERM");
      caller.child.kill("SIGKILL");
      await new Promise((resolve) => node.child.once("exit", resolve));
    }
  }
  return times;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function firstCalls(): Promise<void> {
  const runs = quick ? 3 : 5;
  const direct = (args: string[]): [string, string[]] => [process.execPath, args];
  process.stdout.write(`\nregistration → first call from another process (median of ${runs}):\n`);
  const report = (registry: string, times: number[]): void => {
    process.stdout.write(`  ${registry.padEnd(6)} ${String(median(times)).padStart(5)} ms   (runs: ${times.join(", ")} ms)\n`);
  };

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-bench-"));
  try {
    report(
      "local",
      await registrationToFirstCall("local", { env: { MICRO_REGISTRY: "local", MICRO_REGISTRY_ADDRESS: dir }, caller: direct, node: direct }, runs),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  if (await canConnect("127.0.0.1", 4222)) {
    report(
      "nats",
      await registrationToFirstCall("nats", { env: { MICRO_REGISTRY: "nats", MICRO_REGISTRY_ADDRESS: "127.0.0.1:4222" }, caller: direct, node: direct }, runs),
    );
  } else process.stdout.write("  nats   skipped: no NATS server on 127.0.0.1:4222 (start one: nats-server -a 127.0.0.1 -p 4222)\n");

  let etcd: OwnedServer | undefined;
  try {
    etcd = privateEtcd(23796);
    await etcd.start();
    report(
      "etcd",
      await registrationToFirstCall("etcd", { env: { MICRO_REGISTRY: "etcd", MICRO_REGISTRY_ADDRESS: "127.0.0.1:23796" }, caller: direct, node: direct }, runs),
    );
  } catch (err) {
    process.stdout.write(`  etcd   skipped: ${(err as Error).message}\n`);
  } finally {
    await etcd?.dispose();
  }

  let net: NetnsPair | undefined;
  try {
    net = createNetnsPair();
    const pair = net;
    const inNs =
      (ns: NetnsPair["a"]) =>
      (args: string[]): [string, string[]] => {
        const { command, args: full } = pair.exec(ns, process.execPath, args);
        return [command, full];
      };
    report(
      "mdns",
      await registrationToFirstCall(
        "mdns",
        {
          env: { MICRO_REGISTRY: "mdns", MICRO_REGISTRY_ADDRESS: pair.a.ip },
          nodeEnv: { MICRO_REGISTRY_ADDRESS: pair.b.ip },
          caller: inNs(pair.a),
          node: inNs(pair.b),
        },
        runs,
      ),
    );
  } catch (err) {
    process.stdout.write(`  mdns   skipped: ${(err as Error).message}\n`);
  } finally {
    net?.dispose();
  }
}

// --- 3. scale ---------------------------------------------------------------------------------------

const SCALE_SERVICES = 200;
const SCALE_NODES = 10;
const REGISTRANT_PROCESSES = 4;
const WATCHERS = 5;
// Go Micro's defaults: what 2,000 real nodes would use.
const SCALE_TTL_S = 90;
const SCALE_INTERVAL_S = 30;
const VICTIM_TTL_S = 5;
const VICTIM_INTERVAL_S = 1.5;
const VICTIM = "scale-0-victim0";
const CHANGES = 40;

interface Piped extends Child {
  write: (line: string) => void;
}

function node(script: string, env: Record<string, string>, nodeArgs: string[] = []): Piped {
  const child = spawn(process.execPath, [...nodeArgs, path.join(benchDir, script)], {
    env: { ...process.env, MICRO_LOG_LEVEL: "silent", ...env },
    stdio: ["pipe", "pipe", "inherit"],
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  return { child, output: () => output, write: (line) => child.stdin!.write(`${line}\n`) };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

interface Mark {
  bytes: number;
  events: number;
  at: number;
}

/** Every watcher's counters, once each has answered `mark`. */
async function marks(watchers: Piped[]): Promise<Mark[]> {
  const counts = watchers.map((w) => (w.output().match(/MARK /g) ?? []).length);
  for (const w of watchers) w.write("mark");
  return Promise.all(
    watchers.map(async (w, i) => {
      const pattern = /MARK (\{[^\n]*\})/g;
      for (;;) {
        const all = [...w.output().matchAll(pattern)];
        if (all.length > counts[i]!) return JSON.parse(all[counts[i]!]![1]!) as Mark;
        if (w.child.exitCode !== null) throw new Error(`a watcher exited: ${w.output()}`);
        await sleep(5);
      }
    }),
  );
}

async function scaleCase(kind: "etcd" | "nats", env: Record<string, string>): Promise<void> {
  process.stdout.write(`\n${kind}: ${SCALE_SERVICES} services × ${SCALE_NODES} nodes = ${SCALE_SERVICES * SCALE_NODES} node records\n`);
  const children: Piped[] = [];
  const start = (script: string, extra: Record<string, string>, nodeArgs?: string[]): Piped => {
    const child = node(script, { ...env, ...extra }, nodeArgs);
    children.push(child);
    return child;
  };
  try {
    const per = SCALE_SERVICES / REGISTRANT_PROCESSES;
    const registrants = Array.from({ length: REGISTRANT_PROCESSES }, (_, p) =>
      start("servers/registrants.js", {
        SCALE_FROM: String(p * per),
        SCALE_TO: String((p + 1) * per),
        SCALE_NODES: String(SCALE_NODES),
        SCALE_TTL: String(SCALE_TTL_S),
        SCALE_INTERVAL: String(SCALE_INTERVAL_S),
        ...(p === 0 ? { SCALE_REAL: "scale-real" } : {}),
        ...(oneRegistryPerProcess ? { SCALE_SHARED: "1" } : {}),
      }),
    );
    const registered = await Promise.all(registrants.map((r) => waitFor(r, /READY (\d+)/, 120_000)));
    const clients = oneRegistryPerProcess ? `1 registry client for ${per} services` : `${per} registry clients`;
    process.stdout.write(
      `  registration: ${REGISTRANT_PROCESSES} processes × ${clients}, slowest process ${Math.max(...registered.map((m) => Number(m[1])))} ms\n`,
    );
    const victim = start("servers/registrants.js", {
      SCALE_FROM: "0",
      SCALE_TO: "1",
      SCALE_NODES: "1",
      SCALE_ID: "victim",
      SCALE_TTL: String(VICTIM_TTL_S),
      SCALE_INTERVAL: String(VICTIM_INTERVAL_S),
    });
    await waitFor(victim, /READY/, 30_000);

    const watchers = Array.from({ length: WATCHERS }, () =>
      start("clients/registry-watcher.js", { SCALE_SERVICES: String(SCALE_SERVICES), SCALE_VICTIM: VICTIM }, ["--expose-gc"]),
    );
    const ready = (await Promise.all(watchers.map((w) => waitFor(w, /READY (\{.*\})/, 120_000)))).map(
      (m) => JSON.parse(m[1]!) as { heapBytes: number; fillMs: number; nodesAfterFill: number; completeMs: number; nodes: number },
    );
    const heap = median(ready.map((r) => r.heapBytes));
    const nodes = median(ready.map((r) => r.nodes));
    process.stdout.write(
      `  one client's cache of ${nodes} nodes: heap +${(heap / 1024 / 1024).toFixed(1)} MiB (median of ${WATCHERS}; ${Math.round(heap / Math.max(nodes, 1))} bytes a node)\n` +
        `  filling it: ${SCALE_SERVICES} lookups, 8 at a time, ${median(ready.map((r) => r.fillMs))} ms, found ${median(ready.map((r) => r.nodesAfterFill))} nodes; all there after ${median(ready.map((r) => r.completeMs))} ms (medians)\n`,
    );

    const cold = node("clients/cold-call.js", { ...env, SCALE_REAL: "scale-real" });
    children.push(cold);
    const [coldLine] = await waitFor(cold, /\{"firstCallMs".*\}/, 60_000);
    const coldResult = JSON.parse(coldLine) as { firstCallMs: number; lookupMs: number; connectedLookupMs: number; found: number[] };
    process.stdout.write(
      `  cold client: first call ${coldResult.firstCallMs} ms (create client, look up, connect, answer); lookup of one service among the 2,000 records ${coldResult.lookupMs} ms with connecting, ${coldResult.connectedLookupMs} ms connected (nodes found: ${coldResult.found.join(", ")} of ${SCALE_NODES})\n`,
    );

    // At rest: what a watcher reads while nothing changes (heartbeats, keepalives), over one
    // heartbeat interval, in which every node renews once.
    const idleMs = SCALE_INTERVAL_S * 1_000;
    const restStart = await marks(watchers);
    await sleep(idleMs);
    const restEnd = await marks(watchers);
    const restRate = restEnd.map((m, i) => (m.bytes - restStart[i]!.bytes) / (m.at - restStart[i]!.at));
    const restEvents = restEnd.map((m, i) => m.events - restStart[i]!.events);
    process.stdout.write(
      `  at rest: a watcher reads ${kib(median(restRate) * 1000)}/s and receives ${median(restEvents)} watch events in ${idleMs / 1000} s\n`,
    );

    // Changes: a node of scale-1 added and removed, CHANGES / 2 times.
    const changer = scaleRegistryFor(kind, env);
    const before = await marks(watchers);
    for (let i = 0; i < CHANGES / 2; i++) {
      const record = scaleRecordOf(`extra${i}`);
      await changer.register(record, { ttl: SCALE_TTL_S * 1_000 });
      await changer.deregister(record);
    }
    await sleep(1_500);
    const after = await marks(watchers);
    await changer.close();
    const perChange = after.map((m, i) => (m.bytes - before[i]!.bytes - restRate[i]! * (m.at - before[i]!.at)) / CHANGES);
    const restEventRate = restEnd.map((m, i) => restEvents[i]! / (m.at - restStart[i]!.at));
    const eventsPerChange = after.map((m, i) => (m.events - before[i]!.events - restEventRate[i]! * (m.at - before[i]!.at)) / CHANGES);
    process.stdout.write(
      `  per change (${CHANGES} changes to scale-1, at-rest traffic subtracted): a watcher reads ${Math.round(median(perChange))} bytes and receives ${median(eventsPerChange).toFixed(2)} watch events\n`,
    );

    // Death: SIGKILL the victim's process; every watcher reports when the node left its cache.
    const killedAt = Date.now();
    victim.child.kill("SIGKILL");
    const dropped = await Promise.all(watchers.map((w) => waitFor(w, /DROPPED (\d+)/, 60_000)));
    const delays = dropped.map((m) => Number(m[1]) - killedAt).sort((a, b) => a - b);
    process.stdout.write(
      `  kill -9 of a node (TTL ${VICTIM_TTL_S} s, renewed every ${VICTIM_INTERVAL_S} s) → dropped by all ${WATCHERS} watchers: ${delays[delays.length - 1]} ms (first ${delays[0]} ms; each: ${delays.join(", ")} ms)\n`,
    );
  } finally {
    for (const child of children) child.child.kill("SIGKILL");
    await Promise.all(
      children.map((c) => (c.child.exitCode === null && c.child.signalCode === null ? new Promise((r) => c.child.once("exit", r)) : undefined)),
    );
  }
}

async function scale(): Promise<void> {
  process.stdout.write(
    `\nscale (load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(", ")}, ${os.cpus().length} cores):\n`,
  );
  let etcd: OwnedServer | undefined;
  try {
    etcd = privateEtcd(23798);
    await etcd.start();
    await scaleCase("etcd", { SCALE_REGISTRY: "etcd", SCALE_ADDRESS: "127.0.0.1:23798" });
  } catch (err) {
    process.stdout.write(`  etcd   failed: ${(err as Error).message}\n`);
  } finally {
    await etcd?.dispose();
  }
  if (await canConnect("127.0.0.1", 4222))
    await scaleCase("nats", { SCALE_REGISTRY: "nats", SCALE_ADDRESS: "127.0.0.1:4222", SCALE_TOPIC: `bench.scale.${process.pid}` }).catch((err: Error) =>
      process.stdout.write(`  nats   failed: ${err.message}\n`),
    );
  else process.stdout.write("  nats   skipped: no NATS server on 127.0.0.1:4222\n");
  process.stdout.write(
    `  load average after: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(", ")}\n`,
  );
}

/** The scale registry in this process (the child processes read the same variables). */
function scaleRegistryFor(_kind: string, env: Record<string, string>): Registry {
  Object.assign(process.env, env);
  return scaleRegistry();
}

function scaleRecordOf(id: string): ServiceRecord {
  return scaleRecord("scale-1", id, 30_000);
}

if (!process.argv.includes("--scale-only")) {
  await lookupCost();
  await firstCalls();
}
if (!process.argv.includes("--no-scale")) await scale();
process.exit(0);
