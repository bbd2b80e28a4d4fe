/**
 * Which services `micro run DIR` runs, and from which TypeScript file each starts.
 *
 * With a micro.mu or micro.json in DIR, the services it declares, in `depends` order. Without one,
 * every service directory under DIR (DIR itself included): a directory is a service when its
 * package.json has a `micro` field naming the entry (`"micro": "src/server.ts"` or
 * `"micro": {"entry": "src/server.ts", "name": "users"}`), or else when it has `main.ts` or
 * `src/main.ts`. A service directory's subdirectories are its own code, not more services;
 * node_modules, dist and dot-directories are never searched.
 */
import fs from "node:fs";
import path from "node:path";
import { UsageError } from "../usage.js";
import { type ConfiguredService, readRunConfig, startOrder } from "./config.js";

export interface ServiceSpec {
  name: string;
  /** Absolute directory: the process's working directory, and what is watched for changes. */
  dir: string;
  /** Absolute path of the TypeScript (or JavaScript) file run with tsx. */
  entry: string;
  depends: string[];
  port?: number;
  /** Processes of it to run, when the configuration file says. */
  instances?: number;
}

export interface Project {
  root: string;
  /** The micro.mu or micro.json read, if any. */
  configFile?: string;
  /** In start order: each after what it depends on. */
  services: ServiceSpec[];
  /** Variables of the chosen environment block, given to every service. */
  env: Record<string, string>;
}

/** The environment used when none is chosen: Go Micro's default. */
export const DEFAULT_ENV = "development";

/** Directories never searched for services nor watched for changes. */
export function isIgnoredDir(name: string): boolean {
  return name === "node_modules" || name === "dist" || name.startsWith(".");
}

/** How deep below DIR services are looked for without a configuration file. */
const SEARCH_DEPTH = 4;

export function loadProject(dir: string, envName: string | undefined): Project {
  const root = path.resolve(dir);
  if (!fs.statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`run: ${dir} is not a directory`);
  const config = readRunConfig(root);
  if (!config) {
    if (envName !== undefined && envName !== DEFAULT_ENV) throw new UsageError(`run: --env ${envName} needs a micro.mu or micro.json with that env block`);
    return { root, services: findServices(root), env: {} };
  }
  const chosen = envName ?? DEFAULT_ENV;
  const env = config.env[chosen];
  // The default environment may be absent; one asked for by name must exist.
  if (!env && envName !== undefined && envName !== DEFAULT_ENV) {
    const known = Object.keys(config.env);
    throw new UsageError(`run: ${config.file} has no env ${envName}${known.length ? ` (it has ${known.join(", ")})` : ""}`);
  }
  const services = startOrder(config.services, config.file).map((service) => configuredSpec(root, service, config.file));
  return { root, configFile: config.file, services, env: env ?? {} };
}

function configuredSpec(root: string, service: ConfiguredService, file: string): ServiceSpec {
  const dir = path.resolve(root, service.path);
  const found = serviceEntry(dir);
  if (!found) throw new UsageError(`${file}: service ${service.name}: no entry in ${dir} (a package.json "micro" field, main.ts or src/main.ts)`);
  return {
    name: service.name,
    dir,
    entry: found.entry,
    depends: service.depends,
    ...(service.port ? { port: service.port } : {}),
    ...(service.instances ? { instances: service.instances } : {}),
  };
}

/** Every service directory under root, DIR first, then by path. */
function findServices(root: string): ServiceSpec[] {
  const services: ServiceSpec[] = [];
  const visit = (dir: string, depth: number): void => {
    const found = serviceEntry(dir);
    if (found) {
      services.push({ name: found.name ?? serviceName(dir), dir, entry: found.entry, depends: [] });
      return;
    }
    if (depth >= SEARCH_DEPTH) return;
    const children = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && !isIgnoredDir(d.name));
    for (const child of children.sort((a, b) => a.name.localeCompare(b.name))) visit(path.join(dir, child.name), depth + 1);
  };
  visit(root, 0);
  const names = new Set<string>();
  for (const { name, dir } of services) {
    if (names.has(name)) throw new UsageError(`run: two services are named ${name} (one in ${dir}); name them apart with a package.json "micro" field`);
    names.add(name);
  }
  return services;
}

/** The entry of the service in `dir` (and a name, if its package.json gives one), or undefined. */
export function serviceEntry(dir: string): { entry: string; name?: string } | undefined {
  const manifest = readManifest(dir);
  const field = manifest?.micro;
  if (typeof field === "string") return { entry: existingFile(dir, field) };
  if (typeof field === "object" && field !== null) {
    const { entry, name } = field as { entry?: unknown; name?: unknown };
    if (typeof entry !== "string") throw new UsageError(`run: ${path.join(dir, "package.json")}: "micro" needs an "entry" file`);
    return { entry: existingFile(dir, entry), ...(typeof name === "string" ? { name } : {}) };
  }
  for (const candidate of ["main.ts", "src/main.ts"]) {
    const file = path.join(dir, candidate);
    if (fs.existsSync(file)) return { entry: file };
  }
  return undefined;
}

function existingFile(dir: string, relative: string): string {
  const file = path.resolve(dir, relative);
  if (!fs.existsSync(file)) throw new UsageError(`run: ${path.join(dir, "package.json")}: the "micro" entry ${relative} does not exist`);
  return file;
}

function readManifest(dir: string): Record<string, unknown> | undefined {
  const file = path.join(dir, "package.json");
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`run: ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

/** A service's name without a configuration: its package's name (without the scope), else its directory's. */
function serviceName(dir: string): string {
  const name = readManifest(dir)?.name;
  return typeof name === "string" && name ? name.replace(/^@[^/]+\//, "") : path.basename(dir);
}
