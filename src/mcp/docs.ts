/** `micro mcp docs`: every tool as Markdown — name, service, description, input schema, scopes. */
import type { JsonSchema, Tool } from "./mcp.js";

export function toolsMarkdown(tools: readonly Tool[]): string {
  const lines = ["# MCP tools", "", `${tools.length} tool${tools.length === 1 ? "" : "s"}, one per service endpoint.`, ""];
  for (const tool of tools) {
    lines.push(`## \`${tool.name}\``, "", `Service \`${tool.service}\`, endpoint \`${tool.endpoint}\`${tool.stream ? " (stream)" : ""}.`, "");
    lines.push(tool.description, "");
    if (tool.scopes.length > 0) lines.push(`Scopes: ${tool.scopes.map((s) => `\`${s}\``).join(", ")}`, "");
    const fields = fieldLines(tool.inputSchema, "");
    if (fields.length > 0) lines.push("| argument | type | required |", "|---|---|---|", ...fields, "");
    lines.push("```json", JSON.stringify(tool.inputSchema, null, 2), "```", "");
  }
  return `${lines.join("\n")}\n`;
}

/** One table row per field, nested fields with dotted paths. */
function fieldLines(schema: JsonSchema, prefix: string): string[] {
  const rows: string[] = [];
  const required = new Set(schema.required ?? []);
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    const path = `${prefix}${name}`;
    const type = field.type === "array" ? `array of ${field.items?.type ?? "any"}` : (field.type ?? "any");
    rows.push(`| \`${path}\` | ${type} | ${required.has(name) ? "yes" : "no"} |`);
    const inner = field.type === "array" ? field.items : field;
    if (inner?.properties) rows.push(...fieldLines(inner, `${path}${field.type === "array" ? "[]" : ""}.`));
  }
  return rows;
}
