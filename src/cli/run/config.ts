/**
 * A project's run configuration as Go Micro's `micro run` reads it: `micro.mu` (preferred) or
 * `micro.json` at the top of the directory. Both describe services (`path`, `port`, `depends`),
 * named environments (blocks of variables) and deploy targets; a mistake is an error naming the
 * file and line, never a guess.
 *
 * micro.mu:                              micro.json:
 *   service users                          {"services": {"users": {"path": "./users", "port": 8081}},
 *       path ./users                        "env": {"development": {"DB": "memory"}},
 *       port 8081                           "deploy": {"prod": {"ssh": "deploy@host"}}}
 *   service posts                        (`instances N` / `"instances": N`: ts-micro's own, see run.ts)
 *       path ./posts
 *       depends users
 *   env development
 *       DB memory
 */
import fs from "node:fs";
import path from "node:path";
import { UsageError } from "../usage.js";

/** One service of the configuration. */
export interface ConfiguredService {
  name: string;
  /** Its directory, relative to the configuration's. */
  path: string;
  /** A port the service listens on: dependents start once it accepts connections. */
  port?: number;
  depends: string[];
  /** How many processes of it to run (ts-micro's addition; unset: `micro run --instances`, else 1). */
  instances?: number;
}

/** The most instances of one service `micro run` starts: more is a typo, not a plan. */
export const MAX_INSTANCES = 64;

export interface RunConfig {
  /** The file it was read from. */
  file: string;
  /** In the order the file declares them. */
  services: ConfiguredService[];
  /** Environment blocks by name: variables given to every service when that environment is chosen. */
  env: Record<string, Record<string, string>>;
  /** Deploy targets: read so that a Go Micro file is accepted, not used by `micro run`. */
  deploy: Record<string, { ssh?: string; path?: string }>;
}

export const CONFIG_FILES = ["micro.mu", "micro.json"] as const;

/** The configuration in `dir`, or undefined when it has neither file. */
export function readRunConfig(dir: string): RunConfig | undefined {
  for (const name of CONFIG_FILES) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, "utf8");
    return name === "micro.mu" ? parseMu(text, file) : parseMicroJson(text, file);
  }
  return undefined;
}

type Block =
  | { kind: "service"; service: ConfiguredService }
  | { kind: "env"; vars: Record<string, string> }
  | { kind: "deploy"; target: { ssh?: string; path?: string } };

/** The micro.mu language: top-level `service|env|deploy NAME`, properties indented by 4 spaces or a tab, `#` comments. */
export function parseMu(text: string, file: string): RunConfig {
  const config: RunConfig = { file, services: [], env: {}, deploy: {} };
  let block: Block | undefined;
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const fail = (message: string): never => {
      throw new UsageError(`${file}:${index + 1}: ${message}`);
    };
    const line = raw.replace(/#.*$/, "").trimEnd();
    if (line.trim() === "") continue;
    const indented = /^( {4}|\t)/.test(line);
    const [keyword = "", ...words] = line.trim().split(/\s+/);
    if (!indented) {
      if (/^\s/.test(line)) fail("indent properties by 4 spaces or a tab");
      block = openBlock(config, keyword, words, fail);
      continue;
    }
    if (!block) fail(`property ${keyword} outside a service, env or deploy block`);
    setProperty(block!, keyword, words, fail);
  }
  return check(config);
}

function openBlock(config: RunConfig, keyword: string, words: string[], fail: (message: string) => never): Block {
  const [name, ...extra] = words;
  if (!name || extra.length > 0) fail(`${keyword} needs exactly one name`);
  const key = name!;
  switch (keyword) {
    case "service": {
      if (config.services.some((s) => s.name === key)) fail(`service ${key} is declared twice`);
      const service: ConfiguredService = { name: key, path: `./${key}`, depends: [] };
      config.services.push(service);
      return { kind: "service", service };
    }
    case "env":
      config.env[key] ??= {};
      return { kind: "env", vars: config.env[key] };
    case "deploy":
      config.deploy[key] ??= {};
      return { kind: "deploy", target: config.deploy[key] };
    default:
      return fail(`unknown keyword ${JSON.stringify(keyword)} (expected service, env or deploy)`);
  }
}

function setProperty(block: Block, key: string, words: string[], fail: (message: string) => never): void {
  if (block.kind === "env") {
    // An env block's lines are KEY value…, the value being the rest of the line.
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) fail(`${JSON.stringify(key)} is not an environment variable name`);
    block.vars[key] = words.join(" ");
    return;
  }
  if (block.kind === "deploy") {
    if (key !== "ssh" && key !== "path") fail(`unknown deploy property ${JSON.stringify(key)} (expected ssh or path)`);
    block.target[key as "ssh" | "path"] = words.join(" ");
    return;
  }
  const service = block.service;
  switch (key) {
    case "path":
      if (words.length !== 1) fail("path needs one directory");
      service.path = words[0]!;
      return;
    case "port":
      service.port = parsePort(words.join(" "), fail);
      return;
    case "depends":
      if (words.length === 0) fail("depends needs at least one service name");
      service.depends.push(...words);
      return;
    case "instances":
      service.instances = parseInstances(words.join(" "), fail);
      return;
    default:
      fail(`unknown service property ${JSON.stringify(key)} (expected path, port, depends or instances)`);
  }
}

function parsePort(text: string, fail: (message: string) => never): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) fail(`port ${JSON.stringify(text)} is not a port number`);
  return port;
}

/** A count of instances: a whole number from 1 to MAX_INSTANCES. */
export function parseInstances(text: string, fail: (message: string) => never): number {
  const count = Number(text);
  if (!/^\d+$/.test(text) || count < 1 || count > MAX_INSTANCES) fail(`instances ${JSON.stringify(text)} is not a whole number from 1 to ${MAX_INSTANCES}`);
  return count;
}

/** micro.json: `{"services": {name: {path, port?, depends?, instances?}}, "env": {name: {K: V}}, "deploy": {name: {ssh, path?}}}`. */
export function parseMicroJson(text: string, file: string): RunConfig {
  const fail = (message: string): never => {
    throw new UsageError(`${file}: ${message}`);
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(json)) return fail("expected an object with services, env and deploy");
  const config: RunConfig = { file, services: [], env: {}, deploy: {} };
  for (const key of Object.keys(json)) if (!["services", "env", "deploy"].includes(key)) fail(`unknown key ${JSON.stringify(key)}`);
  for (const [name, value] of Object.entries(objectAt(json.services, "services", fail))) {
    const spec = objectAt(value, `services.${name}`, fail);
    const depends = spec.depends ?? [];
    if (!Array.isArray(depends) || depends.some((d) => typeof d !== "string")) fail(`services.${name}.depends must be a list of service names`);
    if (spec.path !== undefined && typeof spec.path !== "string") fail(`services.${name}.path must be a string`);
    const service: ConfiguredService = { name, path: (spec.path as string | undefined) ?? `./${name}`, depends: depends as string[] };
    if (spec.port !== undefined) service.port = parsePort(String(spec.port), (m) => fail(`services.${name}: ${m}`));
    if (spec.instances !== undefined) service.instances = parseInstances(String(spec.instances), (m) => fail(`services.${name}: ${m}`));
    config.services.push(service);
  }
  for (const [name, vars] of Object.entries(objectAt(json.env, "env", fail))) {
    const block = objectAt(vars, `env.${name}`, fail);
    config.env[name] = Object.fromEntries(Object.entries(block).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
  }
  for (const [name, target] of Object.entries(objectAt(json.deploy, "deploy", fail))) config.deploy[name] = objectAt(target, `deploy.${name}`, fail);
  return check(config);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function objectAt(value: unknown, where: string, fail: (message: string) => never): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isObject(value)) fail(`${where} must be an object`);
  return value as Record<string, unknown>;
}

function check(config: RunConfig): RunConfig {
  if (config.services.length === 0) throw new UsageError(`${config.file}: no service is declared`);
  startOrder(config.services, config.file);
  return config;
}

/**
 * The services in an order where each comes after what it depends on (Kahn's algorithm; among
 * services that are ready at once, the file's order). An unknown dependency or a cycle is an error.
 */
export function startOrder(services: ConfiguredService[], file: string): ConfiguredService[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  for (const service of services)
    for (const dependency of service.depends)
      if (!byName.has(dependency)) throw new UsageError(`${file}: service ${service.name} depends on ${dependency}, which is not declared`);
  const ordered: ConfiguredService[] = [];
  const placed = new Set<string>();
  while (ordered.length < services.length) {
    const ready = services.filter((s) => !placed.has(s.name) && s.depends.every((d) => placed.has(d)));
    if (ready.length === 0) {
      const left = services.filter((s) => !placed.has(s.name)).map((s) => s.name);
      throw new UsageError(`${file}: the depends of ${left.join(", ")} form a cycle`);
    }
    for (const service of ready) {
      ordered.push(service);
      placed.add(service.name);
    }
  }
  return ordered;
}
