/**
 * Every framework/transport pair the peer benchmark measures: how to start its echo server and
 * how to load and probe it, or why it cannot run on this machine.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { resolveTransport } from "../../src/service/resolve.js";
import { buildGo } from "./go.js";
import type { Command } from "./proc.js";

/** The NATS server for the NATS transports (BENCH_NATS_ADDRESS; keep it on the loopback). */
export const NATS_ADDRESS = process.env.BENCH_NATS_ADDRESS ?? "127.0.0.1:4222";

export interface Peer {
  framework: string;
  transport: string;
  /** Why the peer cannot run here; the run reports it instead of measuring. */
  unavailable?: string;
  /** Environment for both server and client (registry directory, transport choice). */
  env: Record<string, string>;
  /** The server's command for a free `port` (servers that choose their own port ignore it). */
  server(port: number): { command: Command; env: Record<string, string> };
  /**
   * The address a client is given, known before the server starts; undefined when the server
   * chooses its port and the address comes from its READY line.
   */
  address(port: number): string | undefined;
  load(address: string, concurrency: number, warmup: number, seconds: number): Command;
  probe(address: string): Command;
}

type NodePeer = "ts-micro" | "moleculer-tcp" | "moleculer-nats" | "nest" | "raw";

/** Loads and probes run bench/peers/load.js with the peer's name. */
function nodeClient(benchDir: string, name: NodePeer): Pick<Peer, "load" | "probe"> {
  const file = path.join(benchDir, "peers", "load.js");
  return {
    load: (address, c, warmup, seconds) => ({ file, node: true, args: ["run", name, address, String(c), String(warmup), String(seconds)] }),
    probe: (address) => ({ file, node: true, args: ["probe", name, address] }),
  };
}

function nodeServer(benchDir: string, script: string, env: (port: number) => Record<string, string> = () => ({})): Peer["server"] {
  return (port) => ({ command: { file: path.join(benchDir, script), node: true }, env: env(port) });
}

/** ts-micro with one transport; each variant gets its own registry so clients find only its server. */
function tsMicro(benchDir: string, transport: string, setting: string): Peer {
  const registry = fs.mkdtempSync(path.join(os.tmpdir(), `ts-micro-peers-${transport}-`));
  let unavailable: string | undefined;
  try {
    resolveTransport(setting);
  } catch (err) {
    unavailable = `ts-micro has no ${transport} transport yet (MICRO_TRANSPORT=${setting}: ${(err as Error).message})`;
  }
  return {
    framework: "ts-micro",
    transport,
    unavailable,
    env: { MICRO_REGISTRY_ADDRESS: registry, MICRO_TRANSPORT: setting },
    server: nodeServer(benchDir, "servers/micro-echo.js"),
    // Clients find the server through the registry, as users do; the address is not used.
    address: () => "registry",
    ...nodeClient(benchDir, "ts-micro"),
  };
}

function moleculer(benchDir: string, transport: "tcp" | "nats", natsDown: string | undefined): Peer {
  const fixed = (port: number): string => (transport === "nats" ? NATS_ADDRESS : `127.0.0.1:${port}`);
  return {
    framework: "moleculer",
    transport,
    unavailable: transport === "nats" ? natsDown : undefined,
    env: {},
    server: nodeServer(benchDir, "peers/servers/moleculer.js", (port) => ({ BENCH_TRANSPORTER: transport, BENCH_ADDRESS: fixed(port) })),
    address: fixed,
    ...nodeClient(benchDir, `moleculer-${transport}`),
  };
}

function nest(benchDir: string): Peer {
  return {
    framework: "nestjs",
    transport: "tcp",
    env: {},
    server: nodeServer(benchDir, "peers/servers/nest.js", (port) => ({ BENCH_ADDRESS: `127.0.0.1:${port}` })),
    address: (port) => `127.0.0.1:${port}`,
    ...nodeClient(benchDir, "nest"),
  };
}

function goMicro(moduleDir: string): Peer {
  const build = buildGo(moduleDir);
  const bin = typeof build === "string" ? { server: "", load: "" } : build;
  return {
    framework: "go-micro",
    transport: "http",
    unavailable: typeof build === "string" ? build : undefined,
    env: {},
    server: (port) => ({ command: { file: bin.server }, env: { BENCH_PORT: String(port) } }),
    address: (port) => `127.0.0.1:${port}`,
    load: (address, c, warmup, seconds) => ({ file: bin.load, args: ["run", address, String(c), String(warmup), String(seconds)] }),
    probe: (address) => ({ file: bin.load, args: ["probe", address] }),
  };
}

function raw(benchDir: string): Peer {
  return {
    framework: "raw",
    transport: "tcp",
    env: {},
    server: nodeServer(benchDir, "servers/raw-echo.js"),
    address: () => undefined,
    ...nodeClient(benchDir, "raw"),
  };
}

/** Resolves with a reason when nothing accepts connections at `address`. */
function unreachable(address: string): Promise<string | undefined> {
  const [host, port] = address.split(":");
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port) });
    socket.setTimeout(1_000, () => socket.destroy(new Error("timed out")));
    socket.once("connect", () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once("error", (err) => resolve(`no NATS server at ${address} (${err.message}); start one with: nats-server -a 127.0.0.1 -p 4222`));
  });
}

/** The peers in report order; Moleculer TCP and raw are the baselines for the ratios. */
export async function catalog(benchDir: string, goModuleDir: string): Promise<Peer[]> {
  const natsDown = await unreachable(NATS_ADDRESS);
  const tsNats = tsMicro(benchDir, "nats", `nats://${NATS_ADDRESS}`);
  if (!tsNats.unavailable && natsDown) tsNats.unavailable = natsDown;
  return [
    tsMicro(benchDir, "mux", "mux"),
    tsMicro(benchDir, "http", "http"),
    tsNats,
    moleculer(benchDir, "tcp", natsDown),
    moleculer(benchDir, "nats", natsDown),
    nest(benchDir),
    goMicro(goModuleDir),
    raw(benchDir),
  ];
}

/** Removes the registry directories the ts-micro peers made. */
export function cleanup(peers: Peer[]): void {
  for (const peer of peers) {
    if (peer.env.MICRO_REGISTRY_ADDRESS) fs.rmSync(peer.env.MICRO_REGISTRY_ADDRESS, { recursive: true, force: true });
  }
}
