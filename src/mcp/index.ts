/**
 * `ts-micro/mcp`: services' endpoints as Model Context Protocol tools. Needs the optional peer
 * dependency `@modelcontextprotocol/sdk` (`npm install @modelcontextprotocol/sdk`), imported on
 * first use. See docs/mcp.md.
 */
export type { Caller } from "./access.js";
export { buildTools, toolName } from "./catalogue.js";
export { toolsMarkdown } from "./docs.js";
export { createMcpGateway, McpGateway, type McpGatewayOptions } from "./gateway.js";
export type { HttpOptions } from "./http.js";
export { ProtocolError, type ToolResult } from "./invoke.js";
export type { CallOutcome, JsonSchema, McpMount, Tool, ToolNaming, ToolOptions } from "./mcp.js";
export { inputSchema } from "./schema.js";
export { SDK_PACKAGE } from "./sdk.js";
export { type ServeMcpOptions, serveMcp } from "./service.js";
