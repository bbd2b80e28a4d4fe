/**
 * `micro gateway [--address HOST:PORT]`: the HTTP API gateway (src/gateway) in front of every
 * service in the registry. It prints the address it listens on, and stops on SIGINT/SIGTERM
 * after the requests in flight end (streams are cut).
 */
import { parseArgs } from "node:util";
import { createDashboard } from "../gateway/dashboard.js";
import { createGateway, type GatewayMount } from "../gateway/gateway.js";
import { createMcpGateway } from "../mcp/gateway.js";
import { Observability } from "../observe/observe.js";
import { createClient, registryVerifier } from "../service/create-client.js";
import { resolveBroker, resolveEvents, resolveRegistry } from "../service/resolve.js";
import { parseCountFlag, parseDurationFlag } from "./flags.js";
import { programName } from "./usage.js";

export const GATEWAY_USAGE = `  gateway [--address host:port]         the HTTP API gateway (default :8080; MICRO_GATEWAY_ADDRESS):
                                        /api/{service}/{Handler}/{Method}, /openapi.json, /health
                                        the web dashboard at / and MCP at /mcp (--no-dashboard,
                                        --no-mcp: without them); /metrics with MICRO_METRICS=1,
                                        a span per request with MICRO_TRACING=1
                                        (--cors origin,… --rate n/s --timeout 30s --body-limit bytes)`;

export async function gatewayCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      address: { type: "string" },
      cors: { type: "string" },
      rate: { type: "string" },
      timeout: { type: "string" },
      "body-limit": { type: "string" },
      "no-dashboard": { type: "boolean" },
      "no-mcp": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`usage: ${programName}${GATEWAY_USAGE.replace(/^ {2}/, " ")}\n`);
    return 0;
  }
  const rate = parseCountFlag("rate", values.rate);
  const registry = resolveRegistry();
  const mounts: GatewayMount[] = [];
  // With MICRO_TRACING=1 the mounts' clients record a CLIENT span per call as the gateway's own
  // client does, children of the request's span (passed to each mount in `trace`).
  const traced = new Observability("gateway", { metrics: false });
  const wrappers = { wrappers: traced.callWrappers(), streamWrappers: traced.streamWrappers() };
  const closers: Array<() => Promise<unknown>> = [];
  if (!values["no-dashboard"]) {
    // The dashboard at "/": its own client (it decodes what it shows) and the broker and events
    // stream the environment names, as a service would pick them.
    const broker = resolveBroker(undefined, undefined, { registry, verifier: registryVerifier() });
    const client = createClient({ registry, broker, ...wrappers });
    const events = resolveEvents();
    mounts.push(createDashboard({ registry, client, broker, events }));
    closers.push(
      () => client.close(),
      () => broker.disconnect(),
      () => events.close(),
    );
  }
  if (!values["no-mcp"]) {
    // MCP's Streamable HTTP at /mcp: every endpoint as a tool (the SDK is loaded on the first request).
    // Its client as createMcpGateway would make it (no token of its own: each call carries its caller's).
    const mcpClient = createClient({ registry, token: "", ...wrappers });
    const mcp = createMcpGateway({ registry, client: mcpClient });
    closers.push(() => mcpClient.close());
    mounts.push({ prefix: mcp.mount.prefix, handle: (req, res, trace) => mcp.mount.handle(req, res, trace), close: () => mcp.close() });
  }
  const gateway = await createGateway({
    registry,
    mounts,
    address: values.address ?? (process.env.MICRO_GATEWAY_ADDRESS || undefined),
    cors: values.cors ? { origins: values.cors === "*" ? "*" : values.cors.split(",").map((o) => o.trim()) } : undefined,
    rateLimit: rate ? { rate } : undefined,
    timeout: parseDurationFlag("timeout", values.timeout),
    bodyLimit: parseCountFlag("body-limit", values["body-limit"]),
  });
  process.stdout.write(`gateway listening on ${gateway.address} (${gateway.url})\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop).off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop).on("SIGTERM", stop);
  });
  await gateway.close();
  await Promise.all(closers.map((close) => close()));
  await registry.close();
  return 0;
}
