/**
 * Real servers for registry tests. A test that needs a server that isn't there fails with how to
 * start it; servers a test starts itself (a private nats-server, an etcd) are stopped by it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** Resolves when something accepts TCP connections at host:port; rejects with `hint` after `timeout` ms. */
export async function waitForPort(host: string, port: number, timeout: number, hint: string): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await canConnect(host, port)) return;
    if (Date.now() >= deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeout} ms. ${hint}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(500);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
}

/** The shared NATS server every NATS test uses (never stopped by a test). */
export const SHARED_NATS = { host: "127.0.0.1", port: 4222 };

export async function requireSharedNats(): Promise<string> {
  await waitForPort(SHARED_NATS.host, SHARED_NATS.port, 2_000, "These tests need a NATS server: start one with `nats-server -a 127.0.0.1 -p 4222`.");
  return `nats://${SHARED_NATS.host}:${SHARED_NATS.port}`;
}

/** A server process the test owns: started, stopped, restarted on the same port and data. */
export class OwnedServer {
  private child: ChildProcess | undefined;
  private output = "";

  constructor(
    readonly label: string,
    private readonly command: string,
    private readonly args: string[],
    readonly host: string,
    readonly port: number,
    private readonly cleanup: () => void = () => {},
  ) {}

  async start(timeout = 10_000): Promise<void> {
    if (this.child) return;
    if (await canConnect(this.host, this.port)) throw new Error(`${this.label}: ${this.host}:${this.port} is already in use; stop whatever listens there`);
    const child = spawn(this.command, this.args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    child.stdout!.on("data", (d) => (this.output = (this.output + d).slice(-20_000)));
    child.stderr!.on("data", (d) => (this.output = (this.output + d).slice(-20_000)));
    child.once("error", (err) => (this.output += `\n${String(err)}`));
    try {
      await waitForPort(this.host, this.port, timeout, `${this.label} did not start; output:\n${this.output}`);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Kills the server (SIGKILL: an outage, not a clean shutdown) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    this.cleanup();
  }
}

/** A private nats-server on `port` (never the shared one on 4222); `extraArgs` such as TLS flags. */
export function privateNats(port: number, extraArgs: string[] = []): OwnedServer {
  const binary = findBinary("nats-server", ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]);
  return new OwnedServer("nats-server", binary, ["-a", "127.0.0.1", "-p", String(port), ...extraArgs], "127.0.0.1", port);
}

/** TLS for a private etcd's client port: its certificate and key, and the CA its clients' certificates must be signed by. */
export interface EtcdTlsFiles {
  cert: string;
  key: string;
  clientCa: string;
}

/** An etcd of our own on loopback `port` (peer port `port + 1`) with a throwaway data dir; https and client certificates with `tls`. */
export function privateEtcd(port: number, tls?: EtcdTlsFiles): OwnedServer {
  const binary = findBinary("etcd", ["/usr/bin/etcd", "/usr/local/bin/etcd"]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-etcd-"));
  const client = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${port + 1}`;
  const args = [
    "--name", "ts-micro-test",
    "--data-dir", dir,
    "--listen-client-urls", client,
    "--advertise-client-urls", client,
    "--listen-peer-urls", peer,
    "--initial-advertise-peer-urls", peer,
    "--initial-cluster", `ts-micro-test=${peer}`,
    "--log-level", "error",
    ...(tls ? ["--cert-file", tls.cert, "--key-file", tls.key, "--trusted-ca-file", tls.clientCa, "--client-cert-auth"] : []),
  ];
  return new OwnedServer("etcd", binary, args, "127.0.0.1", port, () => fs.rmSync(dir, { recursive: true, force: true }));
}

function findBinary(name: string, candidates: string[]): string {
  const found = candidates.find((file) => fs.existsSync(file));
  if (found) return found;
  const which = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  const install = name === "etcd" ? "apt-get install -y etcd-server" : "apt-get install -y nats-server";
  throw new Error(`${name} is not installed: install it with \`${install}\``);
}
