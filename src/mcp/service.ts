/**
 * A service's own endpoints as MCP tools, on a port of its own (Go Micro's `mcp.WithMCP(":3000")`):
 *
 *   await service.start();
 *   const mcp = await serveMcp(service, { address: "127.0.0.1:3001" });   // http://127.0.0.1:3001/mcp
 *   …
 *   await mcp.close(); await service.stop();
 *
 * It uses the service's registry and auth, and lists only the service's endpoints. Calls go
 * through a client of its own, not the service's: the service's identity is not lent to callers.
 */
import type { Service } from "../service/service.js";
import { createMcpGateway, type McpGateway, type McpGatewayOptions } from "./gateway.js";

export interface ServeMcpOptions extends Omit<McpGatewayOptions, "registry" | "auth" | "services"> {
  /** `host:port` of the Streamable HTTP endpoint (port 0: any free port). */
  address: string;
}

/** Starts the gateway for `service`; `gateway.address` is where it listens. */
export async function serveMcp(service: Service, options: ServeMcpOptions): Promise<McpGateway & { address: string }> {
  const { address, ...rest } = options;
  const gateway = createMcpGateway({ ...rest, registry: service.registry, auth: service.auth, services: [service.name] });
  const bound = await gateway.listen(address);
  return Object.assign(gateway, { address: bound });
}
