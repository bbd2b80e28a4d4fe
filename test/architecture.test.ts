/**
 * The import-direction check described in docs/architecture.md: every import in src/ points down
 * a layer (or sideways along an edge listed in SIDEWAYS), and no file is named util*. It reads the
 * TypeScript sources, not the build, so it sees type-only imports too: a type is knowledge, and a
 * contract that names a server type knows about servers.
 *
 * The tables below are the whole policy. A new top-level folder under src/ must be added to LAYERS
 * before the check passes, which is the moment to decide where it belongs.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import ts from "typescript";

/** Layers from the bottom up; a folder is a top-level directory of src/ ("." = files directly in src/). */
const LAYERS: readonly { name: string; folders: readonly string[] }[] = [
  // Knows nothing of the framework's abstractions; everything may use it.
  { name: "foundation", folders: ["errors", "metadata", "logger", "middleware", "lifecycle", "driver"] },
  // Contracts and their drivers: they know nothing of services, servers or clients.
  { name: "contracts", folders: ["codec", "transport", "grpc", "registry", "broker", "events", "store", "sync", "config", "auth"] },
  // RPC machinery built on the contracts.
  { name: "rpc", folders: ["selector", "server", "client"] },
  // A service: options, plugin resolution by name and environment, lifecycle; what every service
  // serves about itself (Debug handler, health checks, probe port).
  // The resilience wrappers (load shedding, rate limits, circuit breaker) wrap servers and clients.
  { name: "service", folders: ["service", "debug", "observe", "wrappers"] },
  // Programs and gateways built from services and clients; web/ is the dashboard's browser UI,
  // which the gateway serves and which knows only the registry's record types.
  { name: "apps", folders: ["gateway", "mcp", "cli", "web"] },
  // The package entry point (src/index.ts).
  { name: "entry", folders: ["."] },
];

/**
 * The only imports allowed between different folders of the same layer. Everything not listed
 * here is refused, so a new sideways dependency is a decision someone writes down.
 */
const SIDEWAYS: Readonly<Record<string, readonly string[]>> = {
  // errors/ is the very bottom: the rest of the foundation may raise a MicroError.
  metadata: ["errors"],
  logger: ["errors"],
  middleware: ["errors"],
  // Driver helpers (lazy loading, shared connection settings) report through the logger.
  driver: ["errors", "logger"],
  // Every driver may encode payloads; codec itself imports nothing of its layer.
  transport: ["codec"],
  // gRPC is a transport (the contract it implements, its TCP address helpers) carrying codec payloads.
  grpc: ["codec", "transport"],
  registry: ["codec"],
  broker: [
    "codec",
    // The HTTP broker finds subscribers through the registry, as Go Micro's does.
    "registry",
  ],
  events: ["codec"],
  store: ["codec"],
  sync: ["codec"],
  config: ["codec"],
  auth: [
    "codec",
    // Accounts and rules are kept in a store, so they persist and every node shares them.
    "store",
  ],
  // The client picks nodes with a selector.
  client: ["selector"],
  // Every service serves the Debug handler and health checks, observes itself (metrics, tracing)
  // and wraps itself in the resilience wrappers.
  service: ["debug", "observe", "wrappers"],
  // `micro gateway` runs the HTTP gateway (with MCP at /mcp); `micro mcp` runs the MCP gateway.
  cli: ["gateway", "mcp"],
  // The HTTP gateway serves MCP at /mcp.
  gateway: ["mcp"],
};

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const SRC = path.join(ROOT, "src");
const EXAMPLES = path.join(ROOT, "examples");
const SELF = "ts-micro";

interface Finding {
  /** What and where, in one line (file -> imported file). */
  key: string;
  /** What a reader needs to fix it: where, what, and which rule. */
  message: string;
}

function layerOf(folder: string): number | undefined {
  const index = LAYERS.findIndex((layer) => layer.folders.includes(folder));
  return index < 0 ? undefined : index;
}

function describeLayer(folder: string): string {
  const index = layerOf(folder);
  return index === undefined ? "no layer" : `layer ${index} ${LAYERS[index].name}`;
}

/** "broker/http.ts" → "broker"; "index.ts" → ".". */
function folderOf(file: string): string {
  const parts = file.split("/");
  return parts.length > 1 ? parts[0] : ".";
}

function sourceFiles(dir = SRC): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .map((f) => f.split(path.sep).join("/"))
    .filter((f) => (f.endsWith(".ts") || f.endsWith(".tsx")) && !f.endsWith(".d.ts"))
    .sort();
}

/** The src-relative file an import specifier names, or undefined for a package outside ts-micro. */
function resolveImport(file: string, specifier: string): string | undefined {
  if (specifier === SELF) return "index.ts";
  if (specifier.startsWith(`${SELF}/`)) return `${specifier.slice(SELF.length + 1)}/`;
  if (!specifier.startsWith(".")) return undefined;
  const absolute = path.resolve(SRC, path.dirname(file), specifier.replace(/\.js$/, ".ts"));
  const relative = path.relative(SRC, absolute).split(path.sep).join("/");
  if (fs.existsSync(absolute) && fs.statSync(absolute).isDirectory()) return `${relative}/index.ts`;
  return relative;
}

/** Every static import, `export … from` and literal dynamic `import("…")` in a file, with its line. */
function importsOf(file: string, dir = SRC): { specifier: string; line: number }[] {
  const text = fs.readFileSync(path.join(dir, file), "utf8");
  const info = ts.preProcessFile(text, true, true);
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  return info.importedFiles.map((ref) => ({ specifier: ref.fileName, line: source.getLineAndCharacterOfPosition(ref.pos).line + 1 }));
}

/** Why an import from folder `from` to folder `to` is refused, or undefined when it is allowed. */
function brokenRule(from: string, to: string): string | undefined {
  const fromLayer = layerOf(from);
  const toLayer = layerOf(to);
  if (fromLayer === undefined || toLayer === undefined) return "the folder is not in LAYERS";
  if (toLayer > fromLayer) return "points UP";
  if (toLayer === fromLayer && !(SIDEWAYS[from] ?? []).includes(to)) return "sideways, not listed in SIDEWAYS";
  return undefined;
}

function findViolations(): Finding[] {
  const findings: Finding[] = [];
  for (const file of sourceFiles()) {
    const from = folderOf(file);
    if (/^util/i.test(path.basename(file))) {
      findings.push({ key: `${file} is named util*`, message: `src/${file}: a file named util* is a grab bag; name it after the one idea it holds` });
    }
    if (layerOf(from) === undefined) {
      const key = `${from}/ has no layer`;
      if (!findings.some((f) => f.key === key))
        findings.push({ key, message: `src/${from}/ is not in LAYERS (test/architecture.test.ts): add it to the layer it belongs to` });
      continue;
    }
    for (const { specifier, line } of importsOf(file)) {
      const target = resolveImport(file, specifier);
      if (target === undefined) continue;
      const where = `src/${file}:${line}`;
      if (target.startsWith("../")) {
        findings.push({ key: `${file} -> ${target}`, message: `${where} imports "${specifier}", outside src/` });
        continue;
      }
      const to = folderOf(target);
      if (to === from) continue;
      const rule = brokenRule(from, to);
      if (rule === undefined) continue;
      findings.push({
        key: `${file} -> ${target.replace(/\/$/, "")}`,
        message: `${where}  ${from} → ${to}  (${describeLayer(from)} → ${describeLayer(to)}: ${rule})  "${specifier}"`,
      });
    }
  }
  return findings;
}

describe("architecture: imports point down the layers (docs/architecture.md)", () => {
  const findings = findViolations();

  it("no import points up a layer or sideways without a SIDEWAYS entry, and no file is named util*", () => {
    assert.ok(
      findings.length === 0,
      `${findings.length} layering violation(s) (layers, bottom first: ${LAYERS.map((l, i) => `${i} ${l.name}`).join(", ")}):\n` +
        findings.map((f) => `  ${f.message}`).join("\n") +
        "\nMove the code to the layer it belongs to, or import what it needs from a lower layer.",
    );
  });

  it("reads imports of every form (a check that sees nothing passes for nothing)", () => {
    const specifiers = importsOf("index.ts").map((i) => i.specifier);
    assert.ok(specifiers.includes("./service/service.js"), "export … from in src/index.ts");
    assert.ok(sourceFiles().length > 50, "src/**/*.ts found");
    const dynamic = ts.preProcessFile('const m = await import("../a/b.js");\nexport * from "./c.js";\nimport type { X } from "../d/e.js";', true, true);
    assert.deepEqual(
      dynamic.importedFiles.map((f) => f.fileName),
      ["../a/b.js", "./c.js", "../d/e.js"],
    );
  });
});

describe("examples import ts-micro as a user's project does", () => {
  it('imports only "ts-micro", its subpaths, packages and files of the same example', () => {
    const wrong: string[] = [];
    for (const file of sourceFiles(EXAMPLES)) {
      for (const { specifier, line } of importsOf(file, EXAMPLES)) {
        if (!specifier.startsWith(".")) continue;
        const target = path
          .relative(EXAMPLES, path.resolve(EXAMPLES, path.dirname(file), specifier))
          .split(path.sep)
          .join("/");
        if (target.split("/")[0] !== file.split("/")[0]) wrong.push(`examples/${file}:${line} imports "${specifier}"; import it from "ts-micro" instead`);
      }
    }
    assert.deepEqual(wrong, [], `copied into a project, these imports would not resolve:\n  ${wrong.join("\n  ")}`);
  });
});
