/**
 * `micro health SERVICE` and `micro stats SERVICE`: Go Micro's `Debug.Health` and `Debug.Stats`
 * asked of every node of a service, one line per node. health exits 1 when a node is down or
 * does not answer, so a script can wait on it. `micro logs SERVICE [-f]`: the recent log records
 * of every node through `Debug.Log`, merged by time, then (with -f) new ones as they are logged.
 */
import { parseArgs } from "node:util";
import type { Client } from "../client/client.js";
import type { HealthResponse, LogRecord, LogRequest } from "../debug/handler.js";
import type { StatsResponse } from "../debug/stats.js";
import { MicroError } from "../errors/errors.js";
import { humanLine } from "../logger/human.js";
import { createLogger, type LogLevel } from "../logger/logger.js";
import type { Node, Registry } from "../registry/registry.js";
import type { Filter } from "../selector/selector.js";
import { createClient } from "../service/create-client.js";
import { resolveRegistry } from "../service/resolve.js";
import { parseCountFlag, parseDurationFlag } from "./flags.js";
import { printHint, programName, UsageError } from "./usage.js";

export interface DebugFlags {
  json?: boolean;
  timeout?: string;
  token?: string;
}

export const DEBUG_USAGE = `  health <service> [--json]             Debug.Health of every node: "ok", or "down" and the
                                        failing checks; exits 1 unless every node is ok
  stats <service> [--json]              Debug.Stats of every node: uptime, memory (RSS), calls
                                        in flight, GC time, requests and errors
  logs <service> [-f]                   any other service: recent log records of every node
                                        (Debug.Log), oldest first;
                                        -f, --follow: then each new record until Ctrl-C
       --count <n>                      at most n records per node (default all kept, 1024)
       --since <duration|time>          only records since then: 10m, or an ISO/unix time
       --json                           one JSON record a line, with its node
       --timeout <duration>             per node (default 5s); --token as call`;

const DEFAULT_TIMEOUT = 5_000;

/** What one node answered, or why it did not. */
interface NodeAnswer<T> {
  node: string;
  address: string;
  response?: T;
  error?: string;
}

export async function healthCommand(args: string[], flags: DebugFlags): Promise<number> {
  const service = serviceArgument("health", args);
  const answers = await askEveryNode<HealthResponse>(service, "Debug.Health", { checks: true }, flags);
  if (answers === undefined) return 1;
  if (flags.json) process.stdout.write(`${JSON.stringify(answers, null, 2)}\n`);
  else for (const answer of answers) process.stdout.write(`${healthLine(answer)}\n`);
  return answers.every((a) => a.response?.status === "ok") ? 0 : 1;
}

export async function statsCommand(args: string[], flags: DebugFlags): Promise<number> {
  const service = serviceArgument("stats", args);
  const answers = await askEveryNode<StatsResponse>(service, "Debug.Stats", {}, flags);
  if (answers === undefined) return 1;
  if (flags.json) process.stdout.write(`${JSON.stringify(answers, null, 2)}\n`);
  else for (const answer of answers) process.stdout.write(`${statsLine(answer)}\n`);
  return answers.every((a) => a.response) ? 0 : 1;
}

function serviceArgument(command: string, args: string[]): string {
  const [service, extra] = args;
  if (!service) throw new UsageError(`${command} needs a service name, e.g. ${programName} ${command} greeter`);
  if (extra !== undefined) throw new UsageError(`${command} takes one service name (got also ${JSON.stringify(extra)})`);
  return service;
}

/** Calls `endpoint` on each node of `service`, concurrently; undefined (with a message) when it has none. */
async function askEveryNode<T>(service: string, endpoint: string, request: object, flags: DebugFlags): Promise<NodeAnswer<T>[] | undefined> {
  const timeout = parseDurationFlag("timeout", flags.timeout) ?? DEFAULT_TIMEOUT;
  const registry = resolveRegistry();
  const client = createClient({ registry, logger: createLogger({ level: "warn" }), token: flags.token });
  try {
    const nodes = await nodesOf(registry, service);
    if (nodes.length === 0) {
      process.stderr.write(`service ${service} not found\n`);
      printHint(`\`${programName} services\` lists what is registered (same MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS as the service?)`);
      return undefined;
    }
    return await Promise.all(nodes.map((node) => askNode<T>(client, service, node, endpoint, request, timeout)));
  } finally {
    await client.close();
    await registry.close();
  }
}

async function nodesOf(registry: Registry, service: string): Promise<Node[]> {
  const versions = await registry.getService(service);
  return versions.flatMap((v) => v.nodes).sort((a, b) => a.id.localeCompare(b.id));
}

async function askNode<T>(client: Client, service: string, node: Node, endpoint: string, request: object, timeout: number): Promise<NodeAnswer<T>> {
  const answer: NodeAnswer<T> = { node: node.id, address: node.address };
  try {
    // The node chosen by id, so the client reaches it over the transport it advertises.
    answer.response = (await client.call(service, endpoint, request, { timeout, retries: 0, filters: [onlyNode(node.id)] })) as T;
  } catch (err) {
    answer.error = (err instanceof MicroError ? err : MicroError.from(err, "micro")).toString();
  }
  return answer;
}

function onlyNode(id: string): Filter {
  return (services) => services.map((s) => ({ ...s, nodes: s.nodes.filter((n) => n.id === id) })).filter((s) => s.nodes.length > 0);
}

function healthLine({ node, address, response, error }: NodeAnswer<HealthResponse>): string {
  if (!response) return `${node}  ${address}  unreachable  ${error}`;
  const failing = (response.checks ?? []).filter((c) => c.status !== "up");
  const details = failing.map((c) => `${c.name}${c.critical === false ? " (not critical)" : ""}: ${c.error ?? "down"}`).join("; ");
  return `${node}  ${address}  ${response.status}${details ? `  ${details}` : ""}`;
}

function statsLine({ node, address, response, error }: NodeAnswer<StatsResponse>): string {
  if (!response) return `${node}  ${address}  unreachable  ${error}`;
  const s = response;
  return (
    `${node}  ${address}  started ${new Date(Number(s.started) * 1000).toISOString()}  uptime ${s.uptime}s  ` +
    `memory ${mebibytes(Number(s.memory))}  in-flight ${s.threads}  gc ${(Number(s.gc) / 1e6).toFixed(1)}ms  ` +
    `requests ${s.requests}  errors ${s.errors}`
  );
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)}MiB`;
}

const LOGS_OPTIONS = {
  follow: { type: "boolean", short: "f" },
  count: { type: "string" },
  since: { type: "string" },
  json: { type: "boolean" },
  timeout: { type: "string" },
  token: { type: "string" },
} as const;

/**
 * `micro logs SERVICE [-f]` through `Debug.Log`. Takes its own argv (the words after `logs`), so
 * that a `logs` command with other sources (the files of `micro run`) can hand it over.
 */
export async function debugLogsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: LOGS_OPTIONS, allowPositionals: true });
  const service = serviceArgument("logs", positionals);
  const request: LogRequest = { stream: values.follow === true, count: parseCountFlag("count", values.count) ?? 0, since: sinceFlag(values.since) };
  const timeout = parseDurationFlag("timeout", values.timeout) ?? DEFAULT_TIMEOUT;
  const registry = resolveRegistry();
  const client = createClient({ registry, logger: createLogger({ level: "warn" }), token: values.token });
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
  try {
    const nodes = await nodesOf(registry, service);
    if (nodes.length === 0) {
      process.stderr.write(`service ${service} not found\n`);
      printHint(`\`${programName} services\` lists what is registered (same MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS as the service?)`);
      return 1;
    }
    const print = (node: string, record: LogRecord): void => {
      process.stdout.write(values.json ? `${JSON.stringify({ node, ...record })}\n` : logLine(record, nodes.length > 1 ? node : undefined));
    };
    const read = (node: Node): Promise<string | undefined> =>
      readLog(client, service, node, request, { timeout: request.stream ? undefined : timeout, signal: stop.signal }, (record) => {
        if (request.stream) print(node.id, record);
        else kept.push({ node: node.id, record });
      });
    const kept: { node: string; record: LogRecord }[] = [];
    const errors = await Promise.all(nodes.map(read));
    // Without -f, the nodes' records merged by time (a stable sort keeps each node's order).
    kept.sort((a, b) => Number(a.record.timestamp) - Number(b.record.timestamp));
    for (const { node, record } of kept) print(node, record);
    let failed = false;
    for (const [i, error] of errors.entries()) {
      if (error === undefined) continue;
      failed = true;
      process.stderr.write(`${nodes[i].id}  ${nodes[i].address}  unreachable  ${error}\n`);
    }
    return failed ? 1 : 0;
  } finally {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
    await client.close();
    await registry.close();
  }
}

/** Streams `Debug.Log` of one node into `onRecord`; resolves with the error text if it failed (undefined when it ended or was stopped). */
async function readLog(
  client: Client,
  service: string,
  node: Node,
  request: LogRequest,
  options: { timeout: number | undefined; signal: AbortSignal },
  onRecord: (record: LogRecord) => void,
): Promise<string | undefined> {
  try {
    const stream = client.stream<LogRecord>(service, "Debug.Log", request, {
      timeout: options.timeout,
      signal: options.signal,
      retries: 0,
      filters: [onlyNode(node.id)],
    });
    for await (const record of stream) onRecord(record);
    return undefined;
  } catch (err) {
    if (options.signal.aborted) return undefined;
    return (err instanceof MicroError ? err : MicroError.from(err, "micro")).toString();
  }
}

/** `--since`: a duration back from now (10m), a unix time in seconds, or a date; as unix seconds. */
function sinceFlag(text: string | undefined): number {
  if (text === undefined) return 0;
  if (/^\d+$/.test(text)) return Number(text);
  const date = Date.parse(text);
  if (!Number.isNaN(date)) return Math.floor(date / 1000);
  const ago = parseDurationFlag("since", text)!;
  return Math.floor((Date.now() - ago) / 1000);
}

const LEVELS = new Set<string>(["trace", "debug", "info", "warn", "error", "fatal"]);

function logLine(record: LogRecord, node: string | undefined): string {
  const { level, ...fields } = record.metadata ?? {};
  const shown: Record<string, unknown> = node === undefined ? fields : { ...fields, node };
  const lvl = (LEVELS.has(level) ? level : "info") as LogLevel;
  return humanLine(new Date(Number(record.timestamp) * 1000), lvl, record.message ?? "", shown, process.stdout.isTTY === true && !process.env.NO_COLOR);
}
