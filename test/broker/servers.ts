/**
 * Real servers for broker and events tests: a check that the shared server is up (failing with
 * how to start it, never skipping), and private instances on spare loopback ports that a test
 * may stop and start without disturbing other tests.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

/** Resolves if something accepts TCP connections at host:port within `timeout` ms. */
export function reachable(port: number, host = "127.0.0.1", timeout = 2_000): Promise<boolean> {
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

/** Fails (does not skip) when the shared server is down, saying how to start it. */
export async function requireServer(what: string, port: number, howToStart: string): Promise<void> {
  if (!(await reachable(port))) throw new Error(`${what} is not running on 127.0.0.1:${port}; start it with: ${howToStart}`);
}

export const SERVERS = {
  nats: { port: 4222, start: "nats-server -js -a 127.0.0.1 -p 4222 -sd /var/lib/nats-server &" },
  redis: { port: 6379, start: "redis-server --bind 127.0.0.1 --port 6379 --daemonize yes" },
  rabbitmq: { port: 5672, start: "rabbitmq-server -detached (user guest/guest)" },
  mqtt: { port: 1883, start: "mosquitto -d -c /etc/mosquitto/mosquitto.conf (listener 1883 127.0.0.1, allow_anonymous true)" },
} as const;

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

async function waitUntil(check: () => Promise<boolean>, timeout: number, what: string): Promise<void> {
  const until = Date.now() + timeout;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} within ${timeout} ms`);
}

/** A server process of our own on a spare loopback port, to stop and start at will. */
export class PrivateServer {
  private child: ChildProcess | undefined;
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-server-"));

  private constructor(
    readonly kind: "nats" | "redis" | "mqtt",
    readonly port: number,
    private readonly jetstream: boolean,
  ) {}

  static async create(kind: "nats" | "redis" | "mqtt", options: { jetstream?: boolean } = {}): Promise<PrivateServer> {
    const server = new PrivateServer(kind, await freePort(), options.jetstream ?? false);
    await server.start();
    return server;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const [command, args] = this.commandLine();
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    child.once("error", (err) => (stderr += String(err)));
    this.child = child;
    await waitUntil(async () => child.exitCode === null && (await reachable(this.port, "127.0.0.1", 200)), 10_000, `${this.kind} on port ${this.port} did not start (${command}: ${stderr})`);
  }

  /** Stops the server (SIGKILL: an abrupt failure, as a crash would be). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  async destroy(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private commandLine(): [string, string[]] {
    switch (this.kind) {
      case "nats":
        return ["/usr/sbin/nats-server", ["-a", "127.0.0.1", "-p", String(this.port), ...(this.jetstream ? ["-js", "-sd", this.dir] : [])]];
      case "redis":
        return ["redis-server", ["--bind", "127.0.0.1", "--port", String(this.port), "--save", "", "--appendonly", "no", "--dir", this.dir]];
      case "mqtt": {
        const conf = path.join(this.dir, "mosquitto.conf");
        fs.writeFileSync(conf, `listener ${this.port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
        return ["mosquitto", ["-c", conf]];
      }
    }
  }
}

const execFileAsync = promisify(execFile);

/** RabbitMQ is too heavy for a private instance: stop and start the app of the shared node (only broker tests use it). */
export async function rabbitmqctl(command: "stop_app" | "start_app"): Promise<void> {
  await execFileAsync("rabbitmqctl", [command], { timeout: 60_000 });
  if (command === "start_app") await waitUntil(() => reachable(5672, "127.0.0.1", 200), 30_000, "RabbitMQ did not accept connections again");
}
