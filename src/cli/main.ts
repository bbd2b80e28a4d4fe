#!/usr/bin/env node
/**
 * `micro` (also installed as `ts-micro`, a name no other npm package claims): look at and call the
 * services of a running system. It finds them the way services do: the default host-local
 * registry, or MICRO_REGISTRY / MICRO_REGISTRY_ADDRESS.
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { HTTP_BROKER_SERVICE } from "../broker/http.js";
import type { CallOptions, Client } from "../client/client.js";
import { MicroError } from "../errors/errors.js";
import { createLogger } from "../logger/logger.js";
import { LocalRegistry } from "../registry/local.js";
import type { Registry, ServiceRecord } from "../registry/registry.js";
import { createClient } from "../service/create-client.js";
import { resolveRegistry } from "../service/resolve.js";
import { AUTH_USAGE, authCommand } from "./auth.js";
import { CONFIG_USAGE, configCommand } from "./config.js";
import { DEBUG_USAGE, healthCommand, statsCommand } from "./debug.js";
import { parseDurationFlag, parseMetadata } from "./flags.js";
import { GATEWAY_USAGE, gatewayCommand } from "./gateway.js";
import { GEN_USAGE, genCommand } from "./gen.js";
import { logsCommand } from "./logs.js";
import { MCP_USAGE, mcpCommand } from "./mcp.js";
import { NEW_USAGE, newCommand } from "./new.js";
import { eventsCommand, publishCommand, subscribeCommand } from "./pubsub.js";
import { RUN_USAGE, runCommand, statusCommand } from "./run.js";
import { storeCommand } from "./store.js";
import { syncCommand } from "./sync.js";
import { isUsageError, printHint, programName, UsageError, usageErrorText } from "./usage.js";

const USAGE = `usage: ${programName} <command> [options]     (installed as both micro and ts-micro)

commands:
${NEW_USAGE}
${RUN_USAGE}
  services [--all]                      list registered services (--all: with internal ones,
                                        such as the HTTP broker's micro.http.broker)
  describe <service> [--json]           nodes, endpoints and subscriptions of a service
  call <service> <endpoint> [json]      call an endpoint; the response is printed as JSON
       --timeout <duration>             e.g. 500ms, 5s (default 30s)
       --metadata key=value             repeatable; sent as call metadata
       --address host:port              call this node instead of asking the registry
       --token <token>                  sent as Authorization: Bearer (default MICRO_AUTH_TOKEN)
  stream <service> <endpoint> [json|-]  open a stream; prints each response as a JSON line.
                                        With a json argument it is the one request (server
                                        stream); with - (or piped stdin and no json), each line
                                        of stdin is a request and EOF ends the sending side
                                        (client and bidi streams).
                                        Takes --timeout, --metadata, --address and --token as call does.
${DEBUG_USAGE}
${GATEWAY_USAGE}
  publish <topic> <json>                publish a message (--metadata key=value, repeatable; --token)
  subscribe <topic> [--queue q]         print each message as a JSON line until Ctrl-C
  events publish <topic> <json>         store an event in a durable stream (--metadata as publish)
  events consume <topic>                print each event as a JSON line and ack it, until Ctrl-C
       --group <name>                   consume as this group (resumes where it left off)
       --offset <seq|time>              where a new group starts: a sequence number or a time
  store write <key> <value>             write a record (value "-": read it from stdin)
       --ttl <duration>                 expire it after this long, e.g. 30s, 1h
       --metadata key=value             repeatable; stored as the record's metadata
  store read <key>                      print the value
       --prefix, --suffix               the key is a prefix/suffix: print each match as a
                                        key<TAB>value line (--limit n, --offset n)
  store list [--prefix p] [--suffix s]  print the keys, one a line (--limit n, --offset n)
  store delete <key>                    delete a record
       --database <db> --table <t>      the scope of any store command (default micro/micro)
       --json                           machine output: records or keys as JSON
  sync lock <name> -- <cmd…>            run cmd while holding the lock; its exit code is micro's
       --ttl <duration>                 the lock outlives a dead holder this long (default 15s)
       --wait <duration>                give up (exit 1) if not acquired within this long
  sync elect <name> -- <cmd…>           campaign, run cmd while leader; cmd gets SIGTERM (and
                                        micro exits non-zero) if leadership is lost. --ttl as lock
${CONFIG_USAGE}
${GEN_USAGE}

${MCP_USAGE}

${AUTH_USAGE}
The broker is MICRO_BROKER (default http, through the registry) at MICRO_BROKER_ADDRESS; events
use MICRO_EVENTS=nats at MICRO_EVENTS_ADDRESS, or the NATS server of MICRO_BROKER=nats.

The store is MICRO_STORE (default file, in the user's data directory) at MICRO_STORE_ADDRESS, its
scope MICRO_STORE_DATABASE and MICRO_STORE_TABLE. Locks need MICRO_SYNC=etcd, redis or nats at
MICRO_SYNC_ADDRESS; the command gets the fencing token in MICRO_SYNC_TOKEN.

config uses MICRO_CONFIG=etcd|nats at MICRO_CONFIG_ADDRESS (etcd keys under MICRO_CONFIG_PREFIX,
default /micro/config/; NATS bucket MICRO_CONFIG_BUCKET, default "default", key MICRO_CONFIG_KEY,
default "micro_config").

The registry is the host-local default unless MICRO_REGISTRY (and MICRO_REGISTRY_ADDRESS) say otherwise.
`;

/** Command groups that read their own options (theirs differ by subcommand). */
const GROUPS: Record<string, (argv: string[]) => Promise<number>> = {
  store: storeCommand,
  sync: syncCommand,
  new: newCommand,
  run: runCommand,
  status: statusCommand,
  logs: logsCommand,
  gen: genCommand,
  gateway: gatewayCommand,
  mcp: mcpCommand,
};

/** Services that are plumbing, not application services: listed only with --all. */
const INTERNAL_SERVICES = new Set([HTTP_BROKER_SERVICE, "go.micro.http.broker"]);

async function main(argv: string[]): Promise<number> {
  const group = GROUPS[argv[0]];
  if (group) return group(argv.slice(1));
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
      all: { type: "boolean" },
      token: { type: "string" },
      scopes: { type: "string" },
      type: { type: "string" },
      id: { type: "string" },
      secret: { type: "string" },
      expiry: { type: "string" },
      resource: { type: "string" },
      scope: { type: "string" },
      deny: { type: "boolean" },
      dir: { type: "string" },
      host: { type: "string" },
      client: { type: "boolean" },
      priority: { type: "string" },
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
      return withRegistry((registry) => listServices(registry, values.all === true));
    case "describe":
      if (!args[0]) throw new UsageError("describe needs a service name");
      return withRegistry((registry) => describe(registry, args[0], values.json === true));
    case "call":
      return call(args, values);
    case "stream":
      return stream(args, values);
    case "health":
      return healthCommand(args, values);
    case "stats":
      return statsCommand(args, values);
    case "publish":
      return publishCommand(args, values);
    case "subscribe":
      return subscribeCommand(args, values);
    case "events":
      return eventsCommand(args, values);
    case "auth":
      return authCommand(args, values);
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

async function listServices(registry: Registry, all: boolean): Promise<number> {
  const names = new Set((await registry.listServices()).map((s) => s.name).filter((name) => all || !INTERNAL_SERVICES.has(name)));
  for (const name of [...names].sort()) process.stdout.write(`${name}\n`);
  return 0;
}

/** Which registry this is and where, for messages: "the local registry (/run/user/1000/micro/registry)". */
function registryDescription(registry: Registry): string {
  const where = registry instanceof LocalRegistry ? registry.path : process.env.MICRO_REGISTRY_ADDRESS || "its default address";
  return `the ${registry.name} registry (${where})`;
}

function hintServiceNotFound(service: string, registry: Registry): void {
  printHint(
    `no node of ${service} is in ${registryDescription(registry)}. Is it running, with the same MICRO_REGISTRY and ` +
      `MICRO_REGISTRY_ADDRESS as this command? \`${programName} services\` lists what is registered.`,
  );
}

async function describe(registry: Registry, name: string, json: boolean): Promise<number> {
  const versions = await registry.getService(name);
  if (versions.length === 0) {
    process.stderr.write(`service ${name} not found\n`);
    hintServiceNotFound(name, registry);
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
  // Go Micro publishes subscribers as endpoints too, marked `subscriber: "true"` with their topic.
  const endpoints = service.endpoints ?? [];
  const subscriptions = endpoints.filter((e) => e.metadata?.subscriber === "true");
  lines.push("", "endpoints:");
  for (const endpoint of endpoints.filter((e) => !subscriptions.includes(e))) {
    const flags = formatFlags(endpoint.metadata ?? {});
    lines.push(`  ${endpoint.name}${flags ? `  (${flags})` : ""}`);
  }
  if (subscriptions.length > 0) {
    lines.push("", "subscriptions:");
    for (const { name, metadata } of subscriptions) {
      const { topic, subscriber: _, queue, ...rest } = metadata ?? {};
      const flags = formatFlags({ ...(queue ? { queue } : {}), handler: name, ...rest });
      lines.push(`  ${topic ?? "(no topic)"}  (${flags})`);
    }
  }
  return `${lines.join("\n")}\n\n`;
}

function formatFlags(metadata: Record<string, string>): string {
  return Object.entries(metadata)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}

interface CallFlags {
  timeout?: string;
  metadata?: string[];
  address?: string;
  token?: string;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function callOptions(values: CallFlags): CallOptions {
  return { timeout: parseDurationFlag("timeout", values.timeout), metadata: parseMetadata(values.metadata), address: values.address };
}

/**
 * Runs `work` with a client; a failure prints the error JSON on stderr (one line), then hints for
 * the failures a newcomer meets (service not registered, call on a stream), and exits 1.
 */
async function withClient(service: string, endpoint: string, work: (client: Client) => Promise<void>, token?: string): Promise<number> {
  const registry = resolveRegistry();
  const client = createClient({ registry, logger: createLogger({ level: "warn" }), token });
  try {
    await work(client);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const error = err instanceof MicroError ? err : MicroError.from(err, "micro");
    process.stderr.write(`${error.toString()}\n`);
    if (error.code === 404 && error.detail === `service ${service}: not found`) hintServiceNotFound(service, registry);
    if (error.code === 400 && error.detail.startsWith(`${endpoint} is a stream`))
      printHint(`${endpoint} is a stream endpoint: open it with \`${programName} stream ${service} ${endpoint} '<json>'\``);
    return 1;
  } finally {
    await client.close();
    await registry.close();
  }
}

async function call(args: string[], values: CallFlags): Promise<number> {
  const [service, endpoint, body = "{}"] = args;
  if (!service || !endpoint) throw new UsageError('call needs a service and an endpoint, e.g. micro call greeter Greeter.Hello \'{"name":"Ada"}\'');
  const request = parseJson(body, "the request");
  const options = callOptions(values);
  return withClient(
    service,
    endpoint,
    async (client) => {
      const response = await client.call(service, endpoint, request, options);
      process.stdout.write(`${JSON.stringify(response ?? {})}\n`);
    },
    values.token,
  );
}

async function stream(args: string[], values: CallFlags): Promise<number> {
  const [service, endpoint, body] = args;
  if (!service || !endpoint) throw new UsageError(`stream needs a service and an endpoint, e.g. ${programName} stream greeter Greeter.Count '{"to":3}'`);
  // Waiting silently on a terminal would look like a hung server stream: ask for what is meant.
  if (body === undefined && process.stdin.isTTY)
    throw new UsageError(
      `stream ${service} ${endpoint}: give the request as JSON for a server stream ('{"to":3}'), ` +
        "or - to send each line of stdin as a request (client and bidi streams; Ctrl-D ends)",
    );
  const input = body === undefined || body === "-" ? stdinMessages() : parseJson(body, "the request");
  const options = callOptions(values);
  return withClient(
    service,
    endpoint,
    async (client) => {
      for await (const message of client.stream(service, endpoint, input, options)) process.stdout.write(`${JSON.stringify(message ?? {})}\n`);
    },
    values.token,
  );
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
    if (isUsageError(err)) {
      process.stderr.write(usageErrorText(err));
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`${programName}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
