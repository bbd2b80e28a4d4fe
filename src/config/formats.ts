/**
 * Config documents as text: JSON, YAML and TOML. YAML and TOML parsers are optional peer
 * dependencies (`yaml`, `smol-toml`), loaded on first use. Errors say where the document is
 * wrong but never quote it: a config file may hold secrets, and messages end up in logs.
 */
import { loadDriver } from "../driver/driver.js";
import { ConfigError, type ConfigObject } from "./config.js";
import { requireObject } from "./tree.js";

export type ConfigFormat = "json" | "yaml" | "toml";

/** Most aliases a YAML document may use: a document of nested aliases (a "billion laughs") is refused, not expanded. */
export const YAML_MAX_ALIASES = 100;

/** The format named by a file's extension (`.json`, `.yaml`/`.yml`, `.toml`), or undefined. */
export function formatOf(file: string): ConfigFormat | undefined {
  const extension = /\.([a-z]+)$/i.exec(file)?.[1]?.toLowerCase();
  if (extension === "json") return "json";
  if (extension === "yaml" || extension === "yml") return "yaml";
  if (extension === "toml") return "toml";
  return undefined;
}

/** `text` parsed as `format`; it must be a non-empty object. `what` names it in errors. */
export async function parseDocument(text: string, format: ConfigFormat, what: string): Promise<ConfigObject> {
  if (text.trim() === "") throw new ConfigError(`${what} is empty`);
  return requireObject(await parseText(text, format, what), what);
}

async function parseText(text: string, format: ConfigFormat, what: string): Promise<unknown> {
  switch (format) {
    case "json":
      try {
        return JSON.parse(text);
      } catch (err) {
        const position = /position (\d+)/.exec((err as Error).message)?.[1];
        throw new ConfigError(`${what} is not valid JSON${position === undefined ? "" : ` (${lineColumn(text, Number(position))})`}`);
      }
    case "yaml": {
      const yaml = await loadDriver<typeof import("yaml")>("yaml", "YAML config");
      try {
        return yaml.parse(text, { maxAliasCount: YAML_MAX_ALIASES });
      } catch (err) {
        throw new ConfigError(`${what} is not valid YAML (${yamlProblem(err)})`);
      }
    }
    case "toml": {
      const toml = await loadDriver<typeof import("smol-toml")>("smol-toml", "TOML config");
      try {
        return toml.parse(text);
      } catch (err) {
        const { line, column } = err as { line?: number; column?: number };
        throw new ConfigError(`${what} is not valid TOML${line === undefined ? "" : ` (line ${line}, column ${column})`}`);
      }
    }
  }
}

function yamlProblem(err: unknown): string {
  const { code, linePos } = err as { code?: string; linePos?: Array<{ line: number; col: number }> };
  if (/alias count/i.test((err as Error).message ?? "")) return `more than ${YAML_MAX_ALIASES} aliases used: refused as a resource exhaustion attack`;
  const where = linePos?.[0] ? `line ${linePos[0].line}, column ${linePos[0].col}` : "";
  return [code, where].filter(Boolean).join(" at ") || "parse error";
}

function lineColumn(text: string, position: number): string {
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  return `line ${line}, column ${position - before.lastIndexOf("\n")}`;
}
