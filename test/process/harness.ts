/**
 * Helpers for tests that run services as separate processes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const fixture = (name: string): string => path.join(distRoot, "test", "fixtures", `${name}.js`);
export const cli = path.join(distRoot, "src", "cli", "main.js");

/** A fresh directory for a host-local registry, so tests never see each other's services. */
export function tempRegistry(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-test-"));
}

export interface ServiceProcess {
  child: ChildProcess;
  address: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts a fixture and resolves once it printed READY (bounded by `timeout`). */
export function startProcess(script: string, env: Record<string, string>, timeout = 30_000): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [script], { env: { ...process.env, MICRO_LOG_LEVEL: "warn", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${path.basename(script)} did not become ready in ${timeout} ms; output:\n${output}`));
    }, timeout);
    const onData = (): void => {
      const match = /READY (\S+)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      resolve({ child, address: match[1], output: () => output, exited });
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(script)} exited with ${code} before it was ready; output:\n${output}`));
    });
  });
}

/** Runs the micro CLI to completion. */
export function runCli(
  args: string[],
  env: Record<string, string>,
  timeout = 15_000,
  stdin?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { ...process.env, MICRO_LOG_LEVEL: "warn", ...env },
      stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    if (stdin !== undefined) child.stdin!.end(stdin);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`micro ${args.join(" ")} did not finish in ${timeout} ms`));
    }, timeout);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function stopAll(processes: Array<ServiceProcess | undefined>): void {
  for (const p of processes) if (p && p.child.exitCode === null) p.child.kill("SIGKILL");
}
