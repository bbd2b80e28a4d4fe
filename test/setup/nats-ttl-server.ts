/**
 * A nats-server new enough for per-message TTL (2.11+; the distribution's is older), built from
 * its Go module with `go install` on first use into a directory keyed by the version, as the
 * interop programs are built. The first build downloads the module through the Go module proxy
 * and takes a few minutes; a missing toolchain or proxy is an error that says so.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { goCommand } from "../interop/go.js";
import { freePort, OwnedServer } from "./servers.js";

// .ci/run builds this version ahead of the tests; change both together.
export const NATS_TTL_SERVER_VERSION = "v2.12.15";

let built: Promise<string> | undefined;

/** The path of the nats-server binary, built once. */
export function natsTtlServerBinary(): Promise<string> {
  built ??= build();
  return built;
}

async function build(): Promise<string> {
  const dir = path.join(os.tmpdir(), "ts-micro-nats-server", NATS_TTL_SERVER_VERSION);
  const binary = path.join(dir, "nats-server");
  if (fs.existsSync(binary)) return binary;
  fs.mkdirSync(dir, { recursive: true });
  process.stderr.write(`# building nats-server ${NATS_TTL_SERVER_VERSION} into ${dir} (the first build downloads it and takes a few minutes)\n`);
  let log = "";
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(goCommand(), ["install", `github.com/nats-io/nats-server/v2@${NATS_TTL_SERVER_VERSION}`], {
      env: { ...process.env, GOBIN: dir, GOFLAGS: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (d) => (log += d));
    child.stderr!.on("data", (d) => (log += d));
    child.once("error", (err) => {
      log += err.message;
      resolve(-1);
    });
    child.once("exit", resolve);
  });
  if (code !== 0 || !fs.existsSync(binary)) {
    throw new Error(
      `building nats-server ${NATS_TTL_SERVER_VERSION} failed (go install exited ${code}); the Go module proxy must be reachable for the first build.\n${log}`,
    );
  }
  return binary;
}

/** A private nats-server with JetStream and per-message TTL, on a free loopback port, started. */
export async function startNatsTtlServer(): Promise<OwnedServer> {
  const binary = await natsTtlServerBinary();
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-nats-ttl-"));
  const server = new OwnedServer("nats-server", binary, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], "127.0.0.1", port, () =>
    fs.rmSync(dir, { recursive: true, force: true }),
  );
  await server.start();
  return server;
}
