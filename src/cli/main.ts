#!/usr/bin/env node
/**
 * `micro`: look at and call the services of a running system. It finds them the way services do:
 * the default host-local registry, or MICRO_REGISTRY / MICRO_REGISTRY_ADDRESS.
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import type { CallOptions, Client } from "../client/client.js";
import { parseDuration } from "../config/duration.js";
import { MicroError } from "../errors/errors.js";
import { createLogger } from "../logger/logger.js";
import type { Registry, ServiceRecord } from "../registry/registry.js";
import { createClient } from "../service/create-client.js";
import { resolveRegistry } from "../service/resolve.js";
import { CONFIG_USAGE, ConfigUsageError, configCommand } from "./config.js";
import { eventsCommand, PubSubUsageError, publishCommand, subscribeCommand } from "./pubsub.js";

const USAGE = `usage: micro <command> [options]

commands:
  services                              list registered services
  describe <service> [--json]           nodes, addresses and endpoints of a service
  call <service> <endpoint> [json]      call an endpoint; the response is printed as JSON
       --timeout <duration>             e.g. 500ms, 5s (default 30s)
       --metadata key=value             repeatable; sent as call metadata
       --address host:port              call this node instead of asking the registry
  stream <service> <endpoint> [json]    open a stream; prints each response as a JSON line.
                                        With a json argument it is the one request (server
                                        stream); without one, each line of stdin is a request
                                        and EOF ends the sending side (client and bidi streams).
                                        Takes --timeout, --metadata and --address as call does.
  publish <topic> <json>                publish a message (--metadata key=value, repeatable)
  subscribe <topic> [--queue q]         print each message as a JSON line until Ctrl-C
  events publish <topic> <json>         store an event in a durable stream (--metadata as publish)
  events consume <topic>                print each event as a JSON line and ack it, until Ctrl-C
       --group <name>                   consume as this group (resumes where it left off)
       --offset <seq|time>              where a new group starts: a sequence number or a time
${CONFIG_USAGE}

The broker is MICRO_BROKER (default http, through the registry) at MICRO_BROKER_ADDRESS; events
use MICRO_EVENTS=nats at MICRO_EVENTS_ADDRESS, or the NATS server of MICRO_BROKER=nats.

config uses MICRO_CONFIG=etcd|nats at MICRO_CONFIG_ADDRESS (etcd keys under MICRO_CONFIG_PREFIX,
default /micro/config/; NATS bucket MICRO_CONFIG_BUCKET, default "default", key MICRO_CONFIG_KEY,
default "micro_config").

The registry is the host-local default unless MICRO_REGISTRY (and MICRO_REGISTRY_ADDRESS) say otherwise.
`;

/** Thrown for a mistake in how micro was invoked: printed with the usage, exit 2. */
class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      timeout: { type: "string" },
      metadata: { type: "string", multiple: true },
      address: { type: "string" },
      queue: { type: "string" },
      group: { type: "string" },
      offset: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, ...args] = positionals;
  if (values.help || !command || command === "help") {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  switch (command) {
    case "services":
      return withRegistry((registry) => listServices(registry));
    case "describe":
      if (!args[0]) throw new UsageError("describe needs a service name");
      return withRegistry((registry) => describe(registry, args[0], values.json === true));
    case "call":
      return call(args, values);
    case "stream":
      return stream(args, values);
    case "publish":
      return publishCommand(args, values);
    case "subscribe":
      return subscribeCommand(args, values);
    case "events":
      return eventsCommand(args, values);
    case "config":
      return configCommand(args, values);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

async function withRegistry(run: (registry: Registry) => Promise<number>): Promise<number> {
  const registry = resolveRegistry();
  try {
    return await run(registry);
  } finally {
    await registry.close();
  }
}

async function listServices(registry: Registry): Promise<number> {
  const names = new Set((await registry.listServices()).map((s) => s.name));
  for (const name of [...names].sort()) process.stdout.write(`${name}\n`);
  return 0;
}

async function describe(registry: Registry, name: string, json: boolean): Promise<number> {
  const versions = await registry.getService(name);
  if (versions.length === 0) {
    process.stderr.write(`service ${name} not found in the ${registry.name} registry\n`);
    return 1;
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(versions, null, 2)}\n`);
    return 0;
  }
  for (const service of versions) process.stdout.write(formatService(service));
  return 0;
}

function formatService(service: ServiceRecord): string {
  const lines = [`service  ${service.name}`, `version  ${service.version}`, "", "nodes:"];
  for (const node of service.nodes) {
    const metadata = Object.entries(node.metadata ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    lines.push(`  ${node.id}  ${node.address}  ${metadata}`);
  }
  lines.push("", "endpoints:");
  for (const endpoint of service.endpoints ?? []) {
    const flags = Object.entries(endpoint.metadata ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    lines.push(`  ${endpoint.name}${flags ? `  (${flags})` : ""}`);
  }
  return `${lines.join("\n")}\n\n`;
}

interface CallFlags {
  timeout?: string;
  metadata?: string[];
  address?: string;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function callOptions(values: CallFlags): CallOptions {
  const timeout = values.timeout === undefined ? undefined : parseDuration(values.timeout);
  if (values.timeout !== undefined && timeout === undefined) throw new UsageError(`--timeout ${values.timeout} is not a duration (e.g. 500ms, 5s)`);
  const metadata: Record<string, string> = {};
  for (const pair of values.metadata ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--metadata ${pair}: expected key=value`);
    metadata[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return { timeout, metadata, address: values.address };
}

/** Runs `work` with a client; a failure prints the error JSON on stderr and exits 1. */
async function withClient(work: (client: Client) => Promise<void>): Promise<number> {
  const client = createClient({ logger: createLogger({ level: "warn" }) });
  try {
    await work(client);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const error = err instanceof MicroError ? err : MicroError.from(err, "micro");
    process.stderr.write(`${error.toString()}\n`);
    return 1;
  } finally {
    client.close();
  }
}

async function call(args: string[], values: CallFlags): Promise<number> {
  const [service, endpoint, body = "{}"] = args;
  if (!service || !endpoint) throw new UsageError('call needs a service and an endpoint, e.g. micro call greeter Greeter.Hello \'{"name":"Ada"}\'');
  const request = parseJson(body, "the request");
  const options = callOptions(values);
  return withClient(async (client) => {
    const response = await client.call(service, endpoint, request, options);
    process.stdout.write(`${JSON.stringify(response ?? {})}\n`);
  });
}

async function stream(args: string[], values: CallFlags): Promise<number> {
  const [service, endpoint, body] = args;
  if (!service || !endpoint) throw new UsageError("stream needs a service and an endpoint, e.g. micro stream greeter Greeter.Count '{\"to\":3}'");
  const input = body === undefined ? stdinMessages() : parseJson(body, "the request");
  const options = callOptions(values);
  return withClient(async (client) => {
    for await (const message of client.stream(service, endpoint, input, options)) process.stdout.write(`${JSON.stringify(message ?? {})}\n`);
  });
}

/** Each non-empty line of stdin, parsed as JSON. */
async function* stdinMessages(): AsyncIterable<unknown> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === "") continue;
    yield parseJson(line, `stdin line ${number}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (
      err instanceof UsageError ||
      err instanceof PubSubUsageError ||
      err instanceof ConfigUsageError ||
      (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS"))
    ) {
      process.stderr.write(`micro: ${(err as Error).message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`micro: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
