/**
 * Real servers for tests. The shared servers on their standard loopback ports are checked, never
 * started: a test that needs one that isn't there fails (never skips) saying how to start it.
 * Servers a test owns (a private nats-server, redis, mosquitto or etcd) run on their own port and
 * data directory, so a test may kill and restart them without disturbing other tests.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

/** Whether something accepts TCP connections at host:port within `timeout` ms. */
export function canConnect(host: string, port: number, timeout = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeout, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Polls `check` every 50 ms; rejects with `failure()` after `timeout` ms. */
async function waitUntil(check: () => Promise<boolean>, timeout: number, failure: () => string): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(failure());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Resolves when something accepts TCP connections at host:port; rejects with `hint` after `timeout` ms. */
export function waitForPort(host: string, port: number, timeout: number, hint: string): Promise<void> {
  return waitUntil(
    () => canConnect(host, port),
    timeout,
    () => `nothing listens on ${host}:${port} after ${timeout} ms. ${hint}`,
  );
}

/** The shared servers (never stopped by a test) and how to start each. */
export const SERVERS = {
  nats: { port: 4222, start: "nats-server -js -a 127.0.0.1 -p 4222 -sd /var/lib/nats-server &" },
  redis: { port: 6379, start: "redis-server --bind 127.0.0.1 --port 6379 --daemonize yes" },
  rabbitmq: { port: 5672, start: "rabbitmq-server -detached (user guest/guest)" },
  mqtt: { port: 1883, start: "mosquitto -d -c /etc/mosquitto/mosquitto.conf (listener 1883 127.0.0.1, allow_anonymous true)" },
} as const;

/** Fails (does not skip) when the shared server on 127.0.0.1:`port` is down, saying how to start it. */
export async function requireServer(what: string, port: number, howToStart: string): Promise<void> {
  if (!(await canConnect("127.0.0.1", port, 2_000))) throw new Error(`${what} is not running on 127.0.0.1:${port}; start it with: ${howToStart}`);
}

/** The shared NATS server's URL, once it is known to be up. */
export async function requireSharedNats(): Promise<string> {
  await requireServer("NATS", SERVERS.nats.port, SERVERS.nats.start);
  return `nats://127.0.0.1:${SERVERS.nats.port}`;
}

/** A loopback port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.once("error", reject);
  });
}

/** A server process the test owns: started, killed, restarted on the same port and data. */
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

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  async start(timeout = 10_000): Promise<void> {
    if (this.child) return;
    if (await canConnect(this.host, this.port)) throw new Error(`${this.label}: ${this.address} is already in use; stop whatever listens there`);
    const child = spawn(this.command, this.args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    const keep = (d: unknown): void => {
      this.output = (this.output + String(d)).slice(-20_000);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    child.once("error", (err) => keep(`\n${String(err)}`));
    // A server that exits (or never spawns) fails at once rather than after the whole timeout.
    const running = async (): Promise<boolean> => {
      if (child.pid === undefined) throw new Error(`${this.label}: cannot run ${this.command}`);
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${this.label} (${this.command}) exited; output:\n${this.output}`);
      return canConnect(this.host, this.port);
    };
    try {
      await waitUntil(running, timeout, () => `${this.label} on ${this.address} did not start (${this.command}); output:\n${this.output}`);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Kills the server (SIGKILL: an outage or a crash, not a clean shutdown) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
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
  return new OwnedServer("nats-server", ...natsCommand(port, undefined, extraArgs), "127.0.0.1", port);
}

/** nats-server on loopback `port`; with `jetstreamDir`, JetStream on, storing there; `extraArgs` such as TLS flags. */
function natsCommand(port: number, jetstreamDir?: string, extraArgs: string[] = []): [string, string[]] {
  const binary = findBinary("nats-server", ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]);
  const jetstream = jetstreamDir ? ["-js", "-sd", jetstreamDir] : [];
  return [binary, ["-a", "127.0.0.1", "-p", String(port), ...jetstream, ...extraArgs]];
}

/** TLS for a private etcd's client port: its certificate and key, and the CA its clients' certificates must be signed by. */
export interface EtcdTlsFiles {
  cert: string;
  key: string;
  clientCa: string;
}

/** An etcd of our own on loopback `port` (peer port: see etcdPeerPort) with a throwaway data dir; https and client certificates with `tls`. */
export function privateEtcd(port: number, tls?: EtcdTlsFiles): OwnedServer {
  const binary = findBinary("etcd", ["/usr/bin/etcd", "/usr/local/bin/etcd"]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-etcd-"));
  const client = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${etcdPeerPort(port)}`;
  const flags = {
    name: "ts-micro-test",
    "data-dir": dir,
    "listen-client-urls": client,
    "advertise-client-urls": client,
    "listen-peer-urls": peer,
    "initial-advertise-peer-urls": peer,
    "initial-cluster": `ts-micro-test=${peer}`,
    "log-level": "error",
  };
  const tlsArgs = tls ? ["--cert-file", tls.cert, "--key-file", tls.key, "--trusted-ca-file", tls.clientCa, "--client-cert-auth"] : [];
  const args = [...Object.entries(flags).flatMap(([flag, value]) => [`--${flag}`, value]), ...tlsArgs];
  return new OwnedServer("etcd", binary, args, "127.0.0.1", port, () => fs.rmSync(dir, { recursive: true, force: true }));
}

/**
 * The port an etcd on client `port` uses for its (unused, single-member) peer listener: `port + 1`
 * below the kernel's ephemeral range; for a client port from freePort(), which is in that range,
 * one in 14000-19999, because the port next to an ephemeral one may belong to any outgoing
 * connection of the moment, and etcd exits when it cannot bind it.
 */
function etcdPeerPort(port: number): number {
  return port < 32768 ? port + 1 : 14000 + (port % 6000);
}

/** A broker server of our own on a spare loopback port with a throwaway data dir, already started. */
export class PrivateServer extends OwnedServer {
  static async create(kind: "nats" | "redis" | "mqtt", options: { jetstream?: boolean } = {}): Promise<PrivateServer> {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-server-"));
    const [command, args] = PrivateServer.commandLine(kind, port, dir, options.jetstream ?? false);
    const server = new PrivateServer(kind, command, args, "127.0.0.1", port, () => fs.rmSync(dir, { recursive: true, force: true }));
    await server.start();
    return server;
  }

  /** The same as dispose(). */
  destroy(): Promise<void> {
    return this.dispose();
  }

  private static commandLine(kind: "nats" | "redis" | "mqtt", port: number, dir: string, jetstream: boolean): [string, string[]] {
    switch (kind) {
      case "nats":
        return natsCommand(port, jetstream ? dir : undefined);
      case "redis":
        return [
          findBinary("redis-server", ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]),
          ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--dir", dir],
        ];
      case "mqtt": {
        const conf = path.join(dir, "mosquitto.conf");
        fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
        return [findBinary("mosquitto", ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"]), ["-c", conf]];
      }
    }
  }
}

const execFileAsync = promisify(execFile);

/**
 * A PostgreSQL cluster of our own (never the shared one on 5432): initdb'd as the `postgres` user
 * in a throwaway directory, on a loopback port, trust authentication. `stop()` is a fast shutdown
 * (pg_ctl stop -m fast: clients are disconnected), `start()` brings the same data back.
 */
export class PrivatePostgres {
  private running = false;

  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly port: number,
  ) {}

  /** Creates and starts the cluster; fails saying what is missing when PostgreSQL's binaries are not installed. */
  static async create(): Promise<PrivatePostgres> {
    const bin = postgresBinaries();
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-postgres-"));
    const owner = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
    const group = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
    if (owner.status !== 0 || group.status !== 0)
      throw new Error("a private PostgreSQL runs as the user postgres, which does not exist: apt-get install -y postgresql");
    fs.chownSync(dir, Number(owner.stdout), Number(group.stdout));
    const server = new PrivatePostgres(bin, dir, port);
    await server.asPostgres("initdb", ["-D", server.data, "-A", "trust", "-U", "postgres", "--no-sync"]);
    await server.start();
    return server;
  }

  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private get data(): string {
    return path.join(this.dir, "data");
  }

  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`;
    await this.asPostgres("pg_ctl", ["-D", this.data, "-o", options, "-l", path.join(this.dir, "log"), "-w", "-t", "60", "start"]);
    this.running = true;
    await waitForPort("127.0.0.1", this.port, 30_000, `the private PostgreSQL did not start; see ${path.join(this.dir, "log")}`);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.asPostgres("pg_ctl", ["-D", this.data, "-m", "fast", "-w", "-t", "60", "stop"]);
  }

  async dispose(): Promise<void> {
    if (this.running) await this.stop().catch(() => {});
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private async asPostgres(program: string, args: string[]): Promise<void> {
    try {
      await execFileAsync("runuser", ["-u", "postgres", "--", path.join(this.bin, program), ...args], { timeout: 90_000, cwd: this.dir });
    } catch (err) {
      const { stderr, stdout } = err as { stderr?: string; stdout?: string };
      throw new Error(
        `${program} ${args.join(" ")} failed (as user postgres, through runuser: needs root): ${(err as Error).message}\n${stdout ?? ""}${stderr ?? ""}`,
      );
    }
  }
}

/** The directory of initdb and pg_ctl: the newest /usr/lib/postgresql/<version>/bin that has them. */
function postgresBinaries(): string {
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const bin = path.join(root, version, "bin");
    if (fs.existsSync(path.join(bin, "initdb")) && fs.existsSync(path.join(bin, "pg_ctl"))) return bin;
  }
  throw new Error(`PostgreSQL's server binaries (initdb, pg_ctl) are not in ${root}/<version>/bin: install them with \`apt-get install -y postgresql\``);
}

/** RabbitMQ is too heavy for a private instance: stop and start the app of the shared node (only broker tests use it). */
export async function rabbitmqctl(command: "stop_app" | "start_app"): Promise<void> {
  await execFileAsync("rabbitmqctl", [command], { timeout: 60_000 });
  if (command === "start_app") await waitForPort("127.0.0.1", SERVERS.rabbitmq.port, 30_000, "RabbitMQ did not accept connections again");
}

function findBinary(name: string, candidates: string[]): string {
  const found = candidates.find((file) => fs.existsSync(file));
  if (found) return found;
  const which = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error(`${name} is not installed: install it with \`apt-get install -y ${PACKAGES[name] ?? name}\``);
}

const PACKAGES: Record<string, string> = { etcd: "etcd-server", "nats-server": "nats-server", "redis-server": "redis-server", mosquitto: "mosquitto" };
