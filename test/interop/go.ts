/**
 * Builds and runs the Go Micro programs under interop/. The build goes to a directory keyed by a
 * hash of the Go sources, so it happens once per change; the first one downloads Go Micro from
 * the Go module proxy and takes a few minutes (progress goes to stderr). A missing toolchain or
 * a failed download is an error that says so: these tests never pass without Go Micro.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { distRoot } from "../process/harness.js";

export const interopRoot = path.resolve(distRoot, "..", "interop");
/**
 * The Go modules under interop/ and the programs each builds. `etcd-sync` is a module of its
 * own, so the main one does not carry the etcd client's dependencies (see its README).
 */
const MODULES = {
  ".": ["helloworld", "client", "publisher", "subscriber", "store", "auth", "debug", "relay", "grpcecho", "grpccall", "grpcplain"],
  "etcd-sync": ["lock"],
} as const;
export const PROGRAMS = Object.values(MODULES).flat();
export type Program = (typeof MODULES)[keyof typeof MODULES][number];

let built: Promise<string> | undefined;

/** The `go` command: on PATH, else Go's default install location. */
export function goCommand(): string {
  for (const candidate of ["go", "/usr/local/go/bin/go"]) {
    try {
      execFileSync(candidate, ["version"], { stdio: "ignore" });
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error("Go toolchain not found (looked for `go` on PATH and /usr/local/go/bin/go): install Go 1.24+ to run the Go Micro interop tests");
}

/** Builds every interop program once; resolves with the directory holding the binaries. */
export function buildGoPrograms(): Promise<string> {
  built ??= build();
  return built;
}

async function build(): Promise<string> {
  const go = goCommand();
  const out = path.join(os.tmpdir(), "ts-micro-interop", sourceHash());
  if (PROGRAMS.every((p) => fs.existsSync(path.join(out, p)))) return out;
  fs.mkdirSync(out, { recursive: true });
  process.stderr.write(`# building Go Micro interop programs into ${out} (the first build downloads Go Micro v5 and takes a few minutes)\n`);
  const started = Date.now();
  for (const module of Object.keys(MODULES)) {
    const { code, log } = await goBuild(go, path.join(interopRoot, module), out);
    if (code !== 0) {
      fs.rmSync(out, { recursive: true, force: true });
      throw new Error(
        `building the Go Micro interop programs in interop/${module} failed (go build exited ${code}); the Go module proxy must be reachable for the first build.\n${log}`,
      );
    }
  }
  process.stderr.write(`# Go Micro interop programs built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return out;
}

/** `go build ./...` of the module in `dir` into `out`, its output echoed to stderr as progress. */
function goBuild(go: string, dir: string, out: string): Promise<{ code: number | null; log: string }> {
  return new Promise((resolve) => {
    const child = spawn(go, ["build", "-o", out + path.sep, "./..."], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    const progress = (d: Buffer): void => {
      log += d;
      for (const line of d.toString().split("\n")) if (line.trim()) process.stderr.write(`#   go: ${line.trim()}\n`);
    };
    child.stdout!.on("data", progress);
    child.stderr!.on("data", progress);
    child.once("error", (err) => resolve({ code: -1, log: log + err.message }));
    child.once("exit", (code) => resolve({ code, log }));
  });
}

function sourceHash(): string {
  const hash = crypto.createHash("sha256");
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(go|mod|sum)$/.test(entry.name)) hash.update(entry.name).update(fs.readFileSync(full));
    }
  };
  walk(interopRoot);
  return hash.digest("hex").slice(0, 16);
}

/**
 * How a program is started: the command and arguments to spawn instead of the bare binary, e.g.
 * `ip netns exec <ns> <binary>` to run it inside a network namespace (see setup/netns.ts).
 */
export type Launcher = (command: string, args: string[]) => { command: string; args: string[] };
const direct: Launcher = (command, args) => ({ command, args });

/** Environment every Go program gets: no mDNS on the real network unless a test asks for it. */
function goEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, MICRO_REGISTRY: "memory", ...env };
}

export interface GoProcess {
  child: ChildProcess;
  /** The address the program listens on (from its {"started": …} line). */
  address: string;
  /** JSON lines it printed so far. */
  lines: () => unknown[];
  output: () => string;
  /** Writes one line to its stdin (for programs driven by commands, such as lock). */
  send: (line: string) => void;
  stop: () => Promise<void>;
}

/** Starts a long-running program (helloworld, subscriber) and waits for its {"started": addr} line. */
export async function startGo(program: Program, env: Record<string, string> = {}, timeout = 20_000, launch: Launcher = direct): Promise<GoProcess> {
  const dir = await buildGoPrograms();
  const { command, args } = launch(path.join(dir, program), []);
  const child = spawn(command, args, { env: goEnv(env), stdio: ["pipe", "pipe", "pipe"] });
  child.stdin!.on("error", () => {}); // a program that exited no longer reads: its output tells why
  const send = (line: string): void => void child.stdin!.write(`${line}\n`);
  let stdout = "";
  let output = "";
  child.stdout!.on("data", (d) => {
    stdout += d;
    output += d;
  });
  child.stderr!.on("data", (d) => (output += d));
  child.once("error", (err) => (output += `\n${String(err)}`));
  const lines = (): unknown[] => parseLines(stdout);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const started = Date.now();
  for (;;) {
    const line = lines().find((l): l is { started: string } => typeof l === "object" && l !== null && "started" in l);
    if (line) return { child, address: line.started, lines, output: () => output, send, stop };
    if (child.exitCode !== null) throw new Error(`Go program ${program} exited with ${child.exitCode} before it started; output:\n${output}`);
    if (Date.now() - started > timeout) {
      await stop();
      throw new Error(`Go program ${program} did not start in ${timeout} ms; output:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Runs a program to completion and returns the last JSON line it printed. */
export async function runGo<T = Record<string, unknown>>(
  program: Program,
  env: Record<string, string> = {},
  timeout = 30_000,
  launch: Launcher = direct,
): Promise<T> {
  const dir = await buildGoPrograms();
  const { command, args } = launch(path.join(dir, program), []);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: goEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    child.once("error", (err) => (stderr += `\n${String(err)}`));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`Go program ${program} did not finish in ${timeout} ms; output:\n${stdout}${stderr}`));
    }, timeout);
    child.once("exit", (code) => {
      clearTimeout(timer);
      const last = parseLines(stdout).at(-1);
      if (last === undefined) reject(new Error(`Go program ${program} exited with ${code} and printed no result; output:\n${stdout}${stderr}`));
      else resolve(last as T);
    });
  });
}

function parseLines(text: string): unknown[] {
  const out: unknown[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a partial line: the rest has not arrived yet
    }
  }
  return out;
}
