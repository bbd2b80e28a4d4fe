/**
 * Every framework/transport pair the peer benchmark measures: how to start its echo server and
 * how to load and probe it, or why it cannot run on this machine.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { resolveTransport } from "../../src/service/resolve.js";
import { buildGo, type GoBuild } from "./go.js";
import type { Command } from "./proc.js";

/** The NATS server for the NATS transports (BENCH_NATS_ADDRESS; keep it on the loopback). */
export const NATS_ADDRESS = process.env.BENCH_NATS_ADDRESS ?? "127.0.0.1:4222";

export interface Peer {
  /** The server's framework. */
  framework: string;
  transport: string;
  /** The client's framework when it is not the server's (a cross pair, such as ts-micro ← Go Micro). */
  client?: string;
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

type NodePeer = "ts-micro" | "moleculer-tcp" | "moleculer-nats" | "nest" | "raw" | "natsjs";

/** Go, pinned to one core by taskset, is also told to run one thread of Go code, like Node's one. */
const GO_ENV = { GOMAXPROCS: "1" };

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

/**
 * ts-micro's gRPC server (MICRO_SERVER=grpc, JSON bodies), called by the ts-micro client through
 * the registry (the node registers protocol=grpc, so the client speaks gRPC to it).
 */
function tsMicroGrpc(benchDir: string): Peer {
  const peer = tsMicro(benchDir, "grpc", "mux");
  return { ...peer, server: nodeServer(benchDir, "servers/micro-echo.js", () => ({ MICRO_SERVER: "grpc" })) };
}

/** The Go programs, or why there are none; built once for every Go peer. */
function goClient(build: GoBuild | string): Pick<Peer, "load" | "probe"> {
  const load = typeof build === "string" ? "" : build.load;
  return {
    load: (address, c, warmup, seconds) => ({ file: load, args: ["run", address, String(c), String(warmup), String(seconds)] }),
    probe: (address) => ({ file: load, args: ["probe", address] }),
  };
}

/** Go Micro's default stack (`http`: HTTP transport) or its gRPC server and client (`grpc`). */
function goMicro(build: GoBuild | string, transport: "http" | "grpc"): Peer {
  const server = typeof build === "string" ? "" : build.server;
  return {
    framework: "go-micro",
    transport,
    unavailable: typeof build === "string" ? build : undefined,
    env: { ...GO_ENV, BENCH_RPC: transport },
    server: (port) => ({ command: { file: server }, env: { BENCH_PORT: String(port) } }),
    address: (port) => `127.0.0.1:${port}`,
    ...goClient(build),
  };
}

/**
 * ts-micro's gRPC server called by Go Micro's gRPC client (pinned to the address, as in the
 * Go ← Go pair): the server listens on the port it is given, so the address is known up front.
 */
function tsMicroFromGo(benchDir: string, build: GoBuild | string): Peer {
  const peer = tsMicro(benchDir, "grpc", "mux");
  return {
    ...peer,
    client: "go-micro",
    unavailable: peer.unavailable ?? (typeof build === "string" ? build : undefined),
    env: { ...peer.env, ...GO_ENV, BENCH_RPC: "grpc" },
    server: nodeServer(benchDir, "servers/micro-echo.js", (port) => ({ MICRO_SERVER: "grpc", MICRO_SERVER_ADDRESS: `127.0.0.1:${port}` })),
    address: (port) => `127.0.0.1:${port}`,
    ...goClient(build),
  };
}

/** The NATS floor: bare nats.js request/reply through the same nats-server. */
function natsFloor(benchDir: string, natsDown: string | undefined): Peer {
  return {
    framework: "nats.js",
    transport: "nats",
    unavailable: natsDown,
    env: {},
    server: nodeServer(benchDir, "peers/servers/nats.js", () => ({ BENCH_ADDRESS: NATS_ADDRESS })),
    address: () => NATS_ADDRESS,
    ...nodeClient(benchDir, "natsjs"),
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

/**
 * The peers in report order; Moleculer TCP and raw are the baselines for the ratios, nats.js for
 * the NATS rows. `wanted` picks peers before anything is built or made (see peerId).
 */
export async function catalog(
  benchDir: string,
  goModuleDir: string,
  wanted: (peer: Pick<Peer, "framework" | "transport" | "client">) => boolean,
): Promise<Peer[]> {
  const natsDown = await unreachable(NATS_ADDRESS);
  // Built on first use, so a run without Go peers needs no Go toolchain.
  let build: GoBuild | string | undefined;
  const go = (): GoBuild | string => (build ??= buildGo(goModuleDir));
  const tsNats = (): Peer => {
    const peer = tsMicro(benchDir, "nats", `nats://${NATS_ADDRESS}`);
    return { ...peer, unavailable: peer.unavailable ?? natsDown };
  };
  const all: Array<[Pick<Peer, "framework" | "transport" | "client">, () => Peer]> = [
    [{ framework: "ts-micro", transport: "mux" }, () => tsMicro(benchDir, "mux", "mux")],
    [{ framework: "ts-micro", transport: "http" }, () => tsMicro(benchDir, "http", "http")],
    [{ framework: "ts-micro", transport: "nats" }, tsNats],
    [{ framework: "ts-micro", transport: "grpc" }, () => tsMicroGrpc(benchDir)],
    [{ framework: "ts-micro", transport: "grpc", client: "go-micro" }, () => tsMicroFromGo(benchDir, go())],
    [{ framework: "moleculer", transport: "tcp" }, () => moleculer(benchDir, "tcp", natsDown)],
    [{ framework: "moleculer", transport: "nats" }, () => moleculer(benchDir, "nats", natsDown)],
    [{ framework: "nestjs", transport: "tcp" }, () => nest(benchDir)],
    [{ framework: "go-micro", transport: "http" }, () => goMicro(go(), "http")],
    [{ framework: "go-micro", transport: "grpc" }, () => goMicro(go(), "grpc")],
    [{ framework: "raw", transport: "tcp" }, () => raw(benchDir)],
    [{ framework: "nats.js", transport: "nats" }, () => natsFloor(benchDir, natsDown)],
  ];
  return all.filter(([names]) => wanted(names)).map(([, make]) => make());
}

/** `framework/transport`, plus `/client` for a cross pair: what `--only` matches (or the framework alone). */
export function peerId(peer: Pick<Peer, "framework" | "transport" | "client">): string {
  return `${peer.framework}/${peer.transport}${peer.client ? `/${peer.client}` : ""}`;
}

/** Removes the registry directories the ts-micro peers made. */
export function cleanup(peers: Peer[]): void {
  for (const peer of peers) {
    if (peer.env.MICRO_REGISTRY_ADDRESS) fs.rmSync(peer.env.MICRO_REGISTRY_ADDRESS, { recursive: true, force: true });
  }
}
