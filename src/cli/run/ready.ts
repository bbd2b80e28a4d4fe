/**
 * When a dependency counts as started, so that what depends on it may start: once it accepts
 * connections on its configured `port` (Go Micro's rule, there by its /health), else once a node
 * of it is in the registry, which is what callers need. The wait is bounded; a dependency that
 * exits or never gets ready is reported and its dependents start anyway, as they would have to
 * cope with it going away later too.
 */
import net from "node:net";
import type { Registry } from "../../registry/registry.js";

export type Readiness = "ready" | "exited" | "timeout" | "stopped";

export interface ReadyOptions {
  name: string;
  port?: number;
  registry: Registry;
  /** Resolves when the dependency's process exits. */
  exited: Promise<void>;
  /** Resolves when micro run is stopping: no more waiting. */
  stopped: Promise<void>;
  timeout: number;
}

export async function waitReady(options: ReadyOptions): Promise<Readiness> {
  let done = false;
  const check = options.port ? () => accepts(options.port!) : async () => (await options.registry.getService(options.name).catch(() => [])).length > 0;
  const poll = async (): Promise<Readiness> => {
    while (!done) {
      if (await check()) return "ready";
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return "timeout";
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      poll(),
      options.exited.then((): Readiness => "exited"),
      options.stopped.then((): Readiness => "stopped"),
      new Promise<Readiness>((resolve) => {
        timer = setTimeout(() => resolve("timeout"), options.timeout);
      }),
    ]);
  } finally {
    done = true;
    clearTimeout(timer);
  }
}

/** Whether something accepts TCP connections on the loopback port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
