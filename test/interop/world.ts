/**
 * A shared registry for Go Micro and ts-micro programs, one per kind the interop suites run over:
 *
 * - `nats`: the machine's NATS server (NATS_URL, default nats://127.0.0.1:4222), Go Micro's
 *   `registry/nats`. Everything listens on loopback.
 * - `etcd`: a private etcd on a loopback port the suite owns, Go Micro's `registry/etcd`.
 * - `mdns`: no server. Two network namespaces joined by a veth pair: the Go Micro programs run in
 *   one, the ts-micro ones in the other, each advertising its end of the link, so every lookup
 *   and call crosses it. Multicast never touches the machine's real interfaces; the test process
 *   itself never opens an mDNS socket. Go Micro's mDNS registry ignores MICRO_REGISTRY_ADDRESS and
 *   multicasts on the default multicast route, which in the namespace is the veth link.
 *
 * Either side's programs are started through `go` / `ts` (env + launcher), so the suites never
 * need to know which kind they run over.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fixture } from "../process/harness.js";
import { createNetnsPair, type NetnsPair } from "../setup/netns.js";
import { type OwnedServer, privateEtcd, requireSharedNats, waitForPort } from "../setup/servers.js";
import type { Launcher } from "./go.js";

export const REGISTRY_KINDS = ["nats", "etcd", "mdns"] as const;
export type RegistryKind = (typeof REGISTRY_KINDS)[number];

export interface Side {
  /** MICRO_* variables for this side's programs: the registry, and addresses the other side reaches. */
  env: Record<string, string>;
  launch: Launcher;
}

export interface World {
  kind: RegistryKind;
  go: Side;
  ts: Side;
  dispose(): Promise<void>;
}

const direct: Launcher = (command, args) => ({ command, args });

/** Sets up the shared registry `kind`; `etcdPort` (and the next one, for etcd's peer URL) must be free. */
export async function createWorld(kind: RegistryKind, etcdPort: number): Promise<World> {
  switch (kind) {
    case "nats": {
      let address: string;
      if (process.env.NATS_URL) {
        address = process.env.NATS_URL.replace(/^nats:\/\//, "");
        const colon = address.lastIndexOf(":");
        await waitForPort(address.slice(0, colon), Number(address.slice(colon + 1)), 2_000, `No NATS server at NATS_URL=${process.env.NATS_URL}.`);
      } else {
        address = (await requireSharedNats()).replace(/^nats:\/\//, "");
      }
      const env = { MICRO_REGISTRY: "nats", MICRO_REGISTRY_ADDRESS: address, MICRO_SERVER_ADDRESS: "127.0.0.1:0", MICRO_BROKER_ADDRESS: "127.0.0.1:0" };
      return { kind, go: { env, launch: direct }, ts: { env, launch: direct }, dispose: async () => {} };
    }
    case "etcd": {
      const etcd: OwnedServer = privateEtcd(etcdPort);
      try {
        await etcd.start();
      } catch (err) {
        await etcd.dispose();
        throw err;
      }
      const env = {
        MICRO_REGISTRY: "etcd",
        MICRO_REGISTRY_ADDRESS: `${etcd.host}:${etcd.port}`,
        MICRO_SERVER_ADDRESS: "127.0.0.1:0",
        MICRO_BROKER_ADDRESS: "127.0.0.1:0",
      };
      return { kind, go: { env, launch: direct }, ts: { env, launch: direct }, dispose: () => etcd.dispose() };
    }
    case "mdns": {
      const net: NetnsPair = createNetnsPair(); // throws the reason (not root, no `ip`): the suite fails with it
      const side = (ns: NetnsPair["a"]): Side => ({
        env: { MICRO_REGISTRY: "mdns", MICRO_REGISTRY_ADDRESS: ns.ip, MICRO_SERVER_ADDRESS: `${ns.ip}:0`, MICRO_BROKER_ADDRESS: `${ns.ip}:0` },
        launch: (command, args) => net.exec(ns, command, args),
      });
      return { kind, go: side(net.a), ts: side(net.b), dispose: async () => net.dispose() };
    }
  }
}

export interface TsProcess {
  child: ChildProcess;
  /** What it printed after READY (the listening address, or "-"). */
  address: string;
  output: () => string;
  exited: Promise<void>;
  /** SIGTERM (the fixtures deregister and exit), SIGKILL after 5 s. */
  stop: () => Promise<void>;
}

/** Starts a ts-micro fixture under test/interop on `side` and waits (bounded) for its READY line. */
export async function startTs(name: string, side: Side, env: Record<string, string>, timeout = 15_000): Promise<TsProcess> {
  const script = fixture(`../interop/${name}`);
  const { command, args } = side.launch(process.execPath, [script]);
  const child = spawn(command, args, { env: { ...process.env, MICRO_LOG_LEVEL: "warn", ...side.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  child.once("error", (err) => (output += `\n${String(err)}`));
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + timeout;
  for (;;) {
    const match = /READY (\S+)/.exec(output);
    if (match) return { child, address: match[1], output: () => output, exited, stop };
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${path.basename(script)} exited (${child.exitCode ?? child.signalCode}) before it was ready; output:\n${output}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${path.basename(script)} was not ready in ${timeout} ms; output:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface PeerError {
  name: string;
  message: string;
  code?: number;
  id?: string;
  detail?: string;
}

/** The ts-micro registry and client, in a process on the ts side (see ts-peer.ts). */
export class TsPeer {
  private seq = 0;
  private constructor(private readonly proc: TsProcess) {}

  static async start(side: Side, env: Record<string, string> = {}): Promise<TsPeer> {
    return new TsPeer(await startTs("ts-peer", side, env));
  }

  /** Sends one command; resolves with its answer ({result} or {error}), rejects after `timeout` ms. */
  async request<T = unknown>(command: Record<string, unknown>, timeout = 15_000): Promise<{ result?: T; error?: PeerError }> {
    const seq = ++this.seq;
    this.proc.child.stdin!.write(`${JSON.stringify({ ...command, seq })}\n`);
    const deadline = Date.now() + timeout;
    for (;;) {
      for (const line of this.proc.output().split("\n")) {
        if (!line.startsWith(`{"seq":${seq},`)) continue;
        return JSON.parse(line) as { result?: T; error?: PeerError };
      }
      if (this.proc.child.exitCode !== null) throw new Error(`ts-peer exited; output:\n${this.proc.output()}`);
      if (Date.now() > deadline) throw new Error(`ts-peer did not answer ${JSON.stringify(command)} in ${timeout} ms; output:\n${this.proc.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Sends one command and returns its result; an error answer throws it. */
  async do<T = unknown>(command: Record<string, unknown>, timeout?: number): Promise<T> {
    const answer = await this.request<T>(command, timeout);
    if (answer.error) throw Object.assign(new Error(`ts-peer ${String(command.op)}: ${answer.error.message}`), { peer: answer.error });
    return answer.result as T;
  }

  /** Closes stdin (the peer closes its client and registry and exits), killing it if it lingers. */
  async stop(): Promise<void> {
    this.proc.child.stdin!.end();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.proc.exited, new Promise((resolve) => (timer = setTimeout(resolve, 3_000)))]);
    clearTimeout(timer);
    await this.proc.stop();
  }
}
