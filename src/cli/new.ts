/**
 * `micro new NAME [--template default|pubsub|store]`: a service project that installs, builds,
 * passes its own test and runs under `micro run` as it is. The templates are real projects for a
 * service called "helloworld" (templates/<name>, plus templates/_common shared by all), shipped
 * in the package and copied with the name replaced: `helloworld` by NAME, `Helloworld` by its
 * class name. The package.json is written here, because its versions are this ts-micro's.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { programName, UsageError } from "./usage.js";

export const NEW_USAGE = `  new <name> [--template <t>]           create a service project in ./<name>: handler, main.ts,
                                        typed client, test, README (templates: default, pubsub,
                                        store)`;

export const TEMPLATES = ["default", "pubsub", "store"] as const;

/** A service name that is also a directory, a package name and (title-cased) a class name. */
const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const MAX_NAME = 63;
/** The name the templates are written for. */
const PLACEHOLDER = "helloworld";
/** Files npm would drop or rename on packing, stored under another name. */
const RENAMED: Record<string, string> = { gitignore: ".gitignore" };

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export async function newCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { template: { type: "string", short: "t" } } });
  const [target, ...extra] = positionals;
  if (!target || extra.length > 0) throw new UsageError(`new needs one name, e.g. ${programName} new helloworld`);
  const template = values.template ?? "default";
  if (!(TEMPLATES as readonly string[]).includes(template))
    throw new UsageError(`new: unknown template ${JSON.stringify(template)} (expected ${TEMPLATES.join(", ")})`);
  const dir = path.resolve(target);
  const name = path.basename(dir);
  if (!NAME.test(name) || name.length > MAX_NAME)
    throw new UsageError(
      `new: ${JSON.stringify(name)} is not a valid service name: lower-case letters, digits and single hyphens, starting with a letter, at most ${MAX_NAME} characters`,
    );
  if (fs.existsSync(dir) && (!fs.statSync(dir).isDirectory() || fs.readdirSync(dir).length > 0))
    throw new UsageError(`new: ${dir} already exists and is not an empty directory`);

  const root = packageRoot();
  const own = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as Manifest;
  process.stdout.write(`creating ${name} (template ${template}) in ${dir}\n`);
  const files = [...copyTemplate(path.join(root, "templates", "_common"), dir, name), ...copyTemplate(path.join(root, "templates", template), dir, name)];
  fs.writeFileSync(path.join(dir, "package.json"), `${JSON.stringify(projectManifest(name, root, own), null, 2)}\n`);
  for (const file of ["package.json", ...files].sort()) process.stdout.write(`  created ${file}\n`);
  const cd = path.relative(process.cwd(), dir) || ".";
  process.stdout.write(
    `\nnext steps:\n  cd ${cd} && npm install && ${programName} run\n\n` +
      `then, from another terminal:\n  ${programName} call ${name} ${className(name)}.${template === "store" ? 'Save \'{"id":"a","text":"hello"}\'' : 'Call \'{"name":"Alice"}\''}\n` +
      `  npm test       (compiles and runs test/handler.test.ts)\n`,
  );
  return 0;
}

/** "hello-world" → "HelloWorld", the handler class's name. */
export function className(name: string): string {
  return name
    .split("-")
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join("");
}

/** The ts-micro package this CLI belongs to: the nearest package.json named ts-micro above this file. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, "package.json");
    if (fs.existsSync(manifest) && (JSON.parse(fs.readFileSync(manifest, "utf8")) as Manifest).name === "ts-micro") return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("cannot find the ts-micro package (and its templates) above the CLI");
    dir = parent;
  }
}

/** Copies a template folder, renaming the service; returns the paths written, relative to `to`. */
function copyTemplate(from: string, to: string, name: string): string[] {
  const written: string[] = [];
  for (const relative of fs.readdirSync(from, { recursive: true, encoding: "utf8" })) {
    const source = path.join(from, relative);
    if (fs.statSync(source).isDirectory()) continue;
    const target = path.join(path.dirname(relative), RENAMED[path.basename(relative)] ?? path.basename(relative));
    const text = fs.readFileSync(source, "utf8").replaceAll(className(PLACEHOLDER), className(name)).replaceAll(PLACEHOLDER, name);
    fs.mkdirSync(path.dirname(path.join(to, target)), { recursive: true });
    fs.writeFileSync(path.join(to, target), text);
    written.push(target);
  }
  return written;
}

/**
 * The project's package.json. ts-micro is this one: from the registry when it was installed from
 * there, else (a clone or a checkout) the directory itself, as a `file:` dependency. The tools'
 * versions are the ones this ts-micro is built and run with.
 */
function projectManifest(name: string, root: string, own: Manifest): object {
  const versions = { ...own.devDependencies, ...own.dependencies };
  const fromRegistry = root.split(path.sep).includes("node_modules");
  return {
    name,
    version: "0.1.0",
    private: true,
    type: "module",
    scripts: {
      build: "tsc",
      start: "micro run",
      test: "tsc && node --test dist/test/*.test.js",
      client: "tsx src/client.ts",
      micro: "micro",
    },
    dependencies: { "ts-micro": fromRegistry ? `^${own.version}` : `file:${root}` },
    devDependencies: { "@types/node": versions["@types/node"], tsx: versions.tsx, typescript: versions.typescript },
  };
}
