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
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CacheRegistry } from "../src/registry/cache.js";
import { MemoryRegistry } from "../src/registry/memory.js";
import { Selector } from "../src/selector/selector.js";
import { makeService } from "../test/conformance/registry.js";
import { createNetnsPair, type NetnsPair } from "../test/setup/netns.js";
import { canConnect, type OwnedServer, privateEtcd } from "../test/setup/servers.js";
import { benchDir } from "./harness.js";

const quick = process.argv.includes("--quick");
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

await lookupCost();
await firstCalls();
process.exit(0);
