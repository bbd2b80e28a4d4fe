/**
 * `micro mcp serve|list|call|docs`: every service endpoint as a Model Context Protocol tool.
 * `serve` speaks MCP on stdio (what an MCP client launches) or Streamable HTTP (`--address`);
 * `list`, `call` and `docs` look at and use the same tools from a terminal. See docs/mcp.md.
 */
import { parseArgs } from "node:util";
import { createLogger } from "../logger/logger.js";
import { toolsMarkdown } from "../mcp/docs.js";
import { createMcpGateway, type McpGateway, type McpGatewayOptions } from "../mcp/gateway.js";
import type { ToolNaming, ToolOptions } from "../mcp/mcp.js";
import { parseCountFlag, parseDurationFlag } from "./flags.js";
import { programName, UsageError } from "./usage.js";

export const MCP_USAGE = `  mcp serve [--address host:port]      serve every endpoint as an MCP tool: on stdio (the default,
                                        as MCP clients launch it) or Streamable HTTP at
                                        http://host:port/mcp
       --token <token>                  the stdio caller (default MICRO_AUTH_TOKEN, or the account of
                                        MICRO_AUTH_ID/MICRO_AUTH_SECRET); HTTP callers send a bearer token
       --tool-names dotted|underscore   greeter.Greeter.Hello (default) or greeter_Greeter_Hello
       --service <name>                 only this service's endpoints (repeatable)
       --timeout <duration>             per-call timeout of every tool (default 30s)
       --rate-limit <n> [--burst <n>]   calls per second allowed per tool
       --scope tool=s1,s2               scopes a caller needs for a tool (repeatable)
  mcp list [--json]                     the tools, one a line (--json: with their input schemas)
  mcp call <tool> [json]                call a tool; prints its result as JSON (exit 1 on a tool error)
  mcp docs                              every tool as Markdown
`;

const OPTIONS = {
  address: { type: "string" },
  token: { type: "string" },
  "tool-names": { type: "string" },
  service: { type: "string", multiple: true },
  timeout: { type: "string" },
  "rate-limit": { type: "string" },
  burst: { type: "string" },
  scope: { type: "string", multiple: true },
  json: { type: "boolean" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

/** micro mcp <serve|list|call|docs> … */
export async function mcpCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true });
  switch (action) {
    case "serve":
      return serve(values);
    case "list":
      return withGateway(values, (gateway) => list(gateway, values.json === true));
    case "call":
      return withGateway(values, (gateway) => call(gateway, positionals));
    case "docs":
      return withGateway(values, async (gateway) => {
        process.stdout.write(toolsMarkdown(await gateway.tools()));
        return 0;
      });
    default:
      throw new UsageError(`mcp needs serve, list, call or docs, not ${JSON.stringify(action ?? "")}`);
  }
}

function gatewayOptions(values: Values): McpGatewayOptions {
  const naming = values["tool-names"];
  if (naming !== undefined && naming !== "dotted" && naming !== "underscore") throw new UsageError(`--tool-names ${naming}: expected dotted or underscore`);
  const rate = values["rate-limit"] === undefined ? undefined : Number(values["rate-limit"]);
  if (rate !== undefined && !(rate > 0)) throw new UsageError(`--rate-limit ${values["rate-limit"]}: expected calls per second > 0`);
  const defaults: ToolOptions = {
    timeout: parseDurationFlag("timeout", values.timeout),
    rateLimit: rate,
    burst: parseCountFlag("burst", values.burst),
  };
  const tools: Record<string, ToolOptions> = {};
  for (const pair of values.scope ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--scope ${pair}: expected tool=scope1,scope2`);
    tools[pair.slice(0, eq)] = {
      scopes: pair
        .slice(eq + 1)
        .split(",")
        .filter(Boolean),
    };
  }
  return {
    token: values.token,
    naming: naming as ToolNaming | undefined,
    services: values.service,
    defaults,
    tools,
    // stdout may be the MCP channel: logs go to stderr, as always.
    logger: createLogger(),
  };
}

async function withGateway(values: Values, run: (gateway: McpGateway) => Promise<number>): Promise<number> {
  const gateway = createMcpGateway({ ...gatewayOptions(values), logger: createLogger({ level: "warn" }) });
  try {
    return await run(gateway);
  } finally {
    await gateway.close();
  }
}

async function serve(values: Values): Promise<number> {
  const gateway = createMcpGateway(gatewayOptions(values));
  const stop = new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  try {
    if (values.address === undefined) {
      await Promise.race([gateway.serveStdio(), stop]);
    } else {
      const address = await gateway.listen(values.address);
      process.stdout.write(`MCP gateway on http://${address}/mcp\n`);
      await stop;
    }
    return 0;
  } finally {
    // An MCP client that closes our stdin expects us gone soon: a call still in flight when it
    // did can hold stdio handles and the close open, so the wait for them is bounded.
    setTimeout(() => {
      process.stderr.write(`${programName} mcp serve: exiting with connections still open after stop\n`);
      process.exit();
    }, 3_000).unref();
    await gateway.close();
    process.stdin.destroy();
  }
}

async function list(gateway: McpGateway, json: boolean): Promise<number> {
  const tools = await gateway.tools();
  if (json) {
    process.stdout.write(`${JSON.stringify({ tools, count: tools.length }, null, 2)}\n`);
    return 0;
  }
  for (const tool of tools) process.stdout.write(`${tool.name}\t${tool.description.split("\n")[0]}\n`);
  if (tools.length === 0) process.stderr.write(`no tools: no service is registered (${programName} services lists them)\n`);
  return 0;
}

async function call(gateway: McpGateway, positionals: string[]): Promise<number> {
  const [name, body = "{}"] = positionals;
  if (!name) throw new UsageError(`mcp call needs a tool, e.g. ${programName} mcp call greeter.Greeter.Hello '{"name":"Ada"}'`);
  let args: unknown;
  try {
    args = JSON.parse(body);
  } catch (err) {
    throw new UsageError(`the arguments are not valid JSON: ${(err as Error).message}`);
  }
  const result = await gateway.call(name, args);
  const text = result.content.map((c) => c.text).join("\n");
  if (result.isError) {
    process.stderr.write(`${text}\n`);
    return 1;
  }
  process.stdout.write(`${text}\n`);
  return 0;
}
