/**
 * `micro run [DIR]`, `micro status` and `micro logs NAME`: run a project's services in development,
 * as Go Micro's `micro run` does, straight from TypeScript. How services are found is in
 * run/project.ts, the processes in run/supervisor.ts, the records status and logs read in
 * run/state.ts; docs/cli-run.md is the user's view.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { resolveRegistry } from "../service/resolve.js";
import { parseDurationFlag } from "./flags.js";
import { parseInstances } from "./run/config.js";
import { Prefixer, useColour } from "./run/output.js";
import { DEFAULT_ENV, loadProject, type Project, type ServiceSpec } from "./run/project.js";
import { waitReady } from "./run/ready.js";
import { effectiveStatus, type RunRecord, RunState } from "./run/state.js";
import { type ProcessSpec, Supervised } from "./run/supervisor.js";
import { standbyArgs, tsxArgs } from "./run/tsx.js";
import { watchTree } from "./run/watch.js";
import { programName, UsageError } from "./usage.js";

export const RUN_USAGE = `  run [dir]                             run the services under dir (default .) with tsx: logs
                                        prefixed, restarted on file changes, Ctrl-C stops all
       --no-gateway                     do not start the HTTP gateway
       --gateway-address <host:port>    where the gateway listens (default 127.0.0.1:8080)
       --no-watch                       do not restart services when their files change
       --no-standby                     keep no preloaded spare process per service (less memory,
                                        slower restarts)
       --env <name>                     the env block of micro.mu/micro.json (default MICRO_ENV,
                                        else development)
       --stop-timeout <duration>        SIGKILL a service this long after SIGTERM (default 10s)
       --instances <n>                  run n processes of each service, n nodes in the registry
                                        (default 1; a service's own instances in micro.mu wins)
  status [--json]                       the services micro run started, and their state
  logs <name> [-f]                      a service micro run started: its log file (-f: follow it)`;

const DEFAULT_GATEWAY_ADDRESS = "127.0.0.1:8080";
const DEFAULT_STOP_TIMEOUT = 10_000;
/** Longest wait for a dependency before starting what depends on it anyway. */
const READY_TIMEOUT = 30_000;

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "no-gateway": { type: "boolean" },
      "gateway-address": { type: "string" },
      "no-watch": { type: "boolean" },
      "no-standby": { type: "boolean" },
      env: { type: "string" },
      "stop-timeout": { type: "string" },
      instances: { type: "string" },
    },
  });
  if (positionals.length > 1) throw new UsageError("run takes one directory");
  const project = loadProject(positionals[0] ?? ".", values.env ?? (process.env.MICRO_ENV || undefined));
  if (project.services.length === 0)
    throw new UsageError(
      `run: no service under ${project.root} (a micro.mu or micro.json, or a directory with main.ts, src/main.ts or a package.json "micro" entry)`,
    );
  const stopTimeout = parseDurationFlag("stop-timeout", values["stop-timeout"]) ?? DEFAULT_STOP_TIMEOUT;
  const watch = values["no-watch"] !== true;
  const standby = watch && values["no-standby"] !== true;
  const instances =
    values.instances === undefined
      ? 1
      : parseInstances(values.instances, (message) => {
          throw new UsageError(`run: --${message}`);
        });
  // One group of specs per service (its instances), the gateway last in a group of its own.
  const groups = project.services.map((s) => instanceSpecs(s, s.instances ?? instances, project.env, { watch, standby }));
  const gateway = values["no-gateway"] ? undefined : (values["gateway-address"] ?? DEFAULT_GATEWAY_ADDRESS);
  if (gateway) groups.push([gatewaySpec(project.root, gateway)]);
  const state = new RunState();
  const prefixer = new Prefixer(
    groups.flat().map((s) => s.name),
    process.stdout,
    useColour(process.stdout),
  );
  // The instances of one service share its colour.
  const processes = groups.map((specs, index) => specs.map((spec) => new Supervised(spec, index, { state, prefixer, stopTimeout })));
  printBanner(project, groups, values.env ?? process.env.MICRO_ENV ?? DEFAULT_ENV, state, gateway);
  return supervise(project, processes, watch);
}

/** Whether the services are told an address to listen on (then two of one cannot run side by side). */
function fixedAddress(env: Record<string, string>): boolean {
  const address = env.MICRO_SERVER_ADDRESS ?? process.env.MICRO_SERVER_ADDRESS ?? "";
  return address !== "" && !/:0$/.test(address);
}

/**
 * The processes of one service: one, or `count` instances named `NAME.1` … `NAME.count` (their log
 * prefix, status record and log file). Each is a separate process with its own port and node id,
 * so the instances register as `count` nodes of the service and callers' selectors spread calls
 * over them: a Node process serves on one core, and this is how a service uses more. Each gets
 * MICRO_INSTANCE (1…count) to tell it apart, say for a metrics port.
 */
function instanceSpecs(service: ServiceSpec, count: number, env: Record<string, string>, mode: { watch: boolean; standby: boolean }): ProcessSpec[] {
  const spec = (name: string, instance: number): ProcessSpec => ({
    name,
    dir: service.dir,
    command: process.execPath,
    args: tsxArgs(service.dir, service.entry),
    // Restarts skip node's and tsx's start (a spare process waits loaded), and the new process
    // starts while the old one deregisters and drains, unless the port is fixed (held until it exits).
    ...(mode.standby ? { standby: standbyArgs(service.dir, service.entry) } : {}),
    ...(mode.watch ? { overlap: service.port === undefined && !fixedAddress(env) } : {}),
    env: { ...env, MICRO_INSTANCE: String(instance) },
    watched: mode.watch,
  });
  if (count === 1) return [spec(service.name, 1)];
  if (fixedAddress(env))
    throw new UsageError(
      `run: ${service.name} runs ${count} instances, which cannot share MICRO_SERVER_ADDRESS=${env.MICRO_SERVER_ADDRESS ?? process.env.MICRO_SERVER_ADDRESS}: leave the port out (any free port) or run one instance`,
    );
  return Array.from({ length: count }, (_, i) => spec(`${service.name}.${i + 1}`, i + 1));
}

/** The HTTP gateway, as a child process: this same CLI's `gateway` command. */
function gatewaySpec(root: string, address: string): ProcessSpec {
  const cli = fileURLToPath(new URL("./main.js", import.meta.url));
  return { name: "gateway", dir: root, command: process.execPath, args: [cli, "gateway", "--address", address], env: {}, watched: false };
}

function printBanner(project: Project, groups: ProcessSpec[][], envName: string, state: RunState, gateway: string | undefined): void {
  const from = project.configFile ? `${path.basename(project.configFile)}, env ${envName}` : "found by their entry files";
  const names = project.services.map((s, index) => (groups[index]!.length > 1 ? `${s.name} ×${groups[index]!.length}` : s.name));
  const lines = [`${programName} run: ${names.join(", ")} (${from})`, `logs in ${path.join(state.dir, "logs")}`];
  if (gateway) lines.push(`gateway: http://${gateway}/api/{service}/{Handler}/{Method}`);
  lines.push("Ctrl-C stops them all");
  process.stdout.write(`${lines.join("\n")}\n`);
}

/**
 * Starts everything in order, restarts on changes, and stops everything on SIGINT or SIGTERM.
 * `groups` holds each service's instances, in the project's order, then the gateway's.
 */
async function supervise(project: Project, groups: Supervised[][], watch: boolean): Promise<number> {
  const processes = groups.flat();
  let shuttingDown = false;
  let shutDown: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    shutDown = () => {
      shuttingDown = true;
      resolve();
    };
    const onSignal = (): void => {
      // A second Ctrl-C while stopping: no more waiting.
      if (shuttingDown) {
        for (const p of processes) p.kill();
        return;
      }
      shutDown();
    };
    // SIGHUP: the terminal closed.
    process.on("SIGINT", onSignal).on("SIGTERM", onSignal).on("SIGHUP", onSignal);
  });
  // The services run in their own process groups, so nothing else would stop them if this
  // process died of an error: kill them on the way out (a no-op after a graceful stop).
  process.once("exit", () => {
    for (const p of processes) p.kill();
  });
  let failure: Error | undefined;
  // Starting fails only when the registry cannot be set up (a bad MICRO_REGISTRY): stop what started.
  const starting = startInOrder(project, groups, stopped, () => shuttingDown).catch((err: Error) => {
    failure = err;
    shutDown();
  });
  // A change restarts every instance of the service at once: they run the same code.
  const watches = watch
    ? project.services.map((service, index) => watchTree(service.dir, (file) => void Promise.all(groups[index]!.map((p) => p.restart(`${file} changed`)))))
    : [];
  await stopped;
  for (const w of watches) w.close();
  await starting;
  // Reverse order: what depends on a service stops before it.
  for (const p of [...processes].reverse()) await p.stop();
  await Promise.all(processes.map((p) => p.close()));
  if (failure) throw failure;
  return 0;
}

async function startInOrder(project: Project, groups: Supervised[][], stopped: Promise<void>, cancelled: () => boolean): Promise<void> {
  const byName = new Map(project.services.map((s, index) => [s.name, groups[index]!]));
  const registry = resolveRegistry();
  try {
    for (const [index, group] of groups.entries()) {
      if (cancelled()) return;
      const service = project.services[index];
      for (const dependency of service?.depends ?? []) {
        const target = project.services.find((s) => s.name === dependency);
        const upstream = byName.get(dependency);
        if (!target || !upstream) continue;
        // Ready once any instance is: one node is enough to be called.
        const exited = Promise.all(upstream.map((p) => p.whenExited())).then(() => {});
        const ready = await waitReady({ name: dependency, port: target.port, registry, exited, stopped, timeout: READY_TIMEOUT });
        if (cancelled()) return;
        if (ready !== "ready")
          for (const supervised of group)
            supervised.say(`starting although ${dependency}, which it depends on, ${ready === "exited" ? "exited" : "is not ready yet"}`);
      }
      for (const supervised of group) supervised.start();
    }
  } finally {
    await registry.close();
  }
}

/** micro status [--json] */
export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: "boolean" } } });
  const records = new RunState().list();
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify(
        records.map((r) => ({ ...r, state: effectiveStatus(r) })),
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  if (records.length === 0) {
    process.stdout.write(`nothing started by ${programName} run\n`);
    return 0;
  }
  const rows = [["NAME", "STATUS", "PID", "UPTIME", "RESTARTS", "DIRECTORY"]];
  for (const r of records) {
    const status = effectiveStatus(r);
    const up = status === "running" ? formatUptime(Date.now() - Date.parse(r.started)) : "-";
    rows.push([r.name, status, status === "running" ? String(r.pid) : "-", up, String(r.restarts), r.dir]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) process.stdout.write(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")}\n`);
  return 0;
}

function formatUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

/** micro logs NAME [-f] */
export async function logsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { follow: { type: "boolean", short: "f" } } });
  const [name] = positionals;
  if (!name) throw new UsageError(`logs needs a service name (${programName} status lists them)`);
  const records = new RunState().list();
  // Newest first: the same name in two projects means the one started last.
  const record = records.find((r) => r.name === name);
  if (!record) {
    const known = [...new Set(records.map((r) => r.name))];
    process.stderr.write(`${programName}: no log of ${name}: ${known.length ? `micro run started ${known.join(", ")}` : "micro run has started nothing"}\n`);
    return 1;
  }
  if (!fs.existsSync(record.log)) {
    process.stderr.write(`${programName}: the log of ${name} (${record.log}) is gone\n`);
    return 1;
  }
  const end = await copyFrom(record.log, 0);
  if (values.follow) await follow(record, end);
  return 0;
}

/** Copies the file to stdout from `offset`; resolves with the offset reached. */
function copyFrom(file: string, offset: number): Promise<number> {
  const size = fs.statSync(file).size;
  // Truncated (a new log started): from the top.
  const from = size < offset ? 0 : offset;
  if (size === from) return Promise.resolve(size);
  return new Promise((resolve, reject) => {
    const stream = fs.createReadStream(file, { start: from, end: size - 1 });
    stream.on("error", reject);
    stream.on("end", () => resolve(size));
    stream.pipe(process.stdout, { end: false });
  });
}

/** Prints what is appended to the log until SIGINT or SIGTERM. */
async function follow(record: RunRecord, offset: number): Promise<void> {
  let position = offset;
  let copying = false;
  const timer = setInterval(() => {
    if (copying) return;
    copying = true;
    copyFrom(record.log, position)
      .then((next) => {
        position = next;
      })
      .catch(() => {})
      .finally(() => {
        copying = false;
      });
  }, 200);
  await new Promise<void>((resolve) => process.once("SIGINT", resolve).once("SIGTERM", resolve));
  clearInterval(timer);
}
