/**
 * What `npm pack` would publish: the LICENSE, every file the README and docs link to, every source
 * a source map names, every bin and export target, and no script that runs in a consumer's
 * install. Reads `npm pack --dry-run` (after the build, which `npm test` runs first).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { before, describe, it } from "node:test";

const root = path.resolve(import.meta.dirname, "..", "..", "..");
const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  license: string;
  scripts: Record<string, string>;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
};

/** The paths `npm pack` would put in the tarball, relative to the package root. */
function packedFiles(): Set<string> {
  const output = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8", timeout: 120_000 });
  const [pack] = JSON.parse(output) as Array<{ files: Array<{ path: string }> }>;
  assert.ok(pack, output);
  return new Set(pack.files.map((f) => f.path));
}

/** A path relative to the package root, from one relative to the file `from` (also relative to the root). */
function besides(from: string, target: string): string {
  return path.posix.normalize(path.posix.join(path.posix.dirname(from), target));
}

describe("the npm package", () => {
  let files = new Set<string>();
  before(() => {
    files = packedFiles();
  });

  it("ships the Apache-2.0 LICENSE that package.json names", () => {
    assert.ok(files.has("LICENSE"));
    assert.equal(manifest.license, "Apache-2.0");
    const license = fs.readFileSync(path.join(root, "LICENSE"), "utf8");
    assert.match(license, /Apache License\s+Version 2\.0, January 2004/);
    assert.match(license, /END OF TERMS AND CONDITIONS/);
  });

  it("ships every file that a shipped Markdown file links to", () => {
    const markdown = [...files].filter((f) => f.endsWith(".md"));
    assert.ok(markdown.includes("README.md") && markdown.some((f) => f.startsWith("docs/")));
    const dangling: string[] = [];
    for (const file of markdown) {
      const text = fs.readFileSync(path.join(root, file), "utf8");
      for (const [, target] of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
        if (!target || /^[a-z]+:/i.test(target)) continue;
        const resolved = besides(file, target);
        if (!files.has(resolved) && ![...files].some((f) => f.startsWith(`${resolved}/`))) dangling.push(`${file} → ${target}`);
      }
    }
    assert.deepEqual(dangling, []);
  });

  it("ships the source of every source map, and the map of every compiled file", () => {
    const maps = [...files].filter((f) => f.endsWith(".js.map"));
    assert.ok(maps.length > 50, "the compiled code has its maps");
    const dangling: string[] = [];
    for (const map of maps) {
      const { sources, sourceRoot = "" } = JSON.parse(fs.readFileSync(path.join(root, map), "utf8")) as { sources: string[]; sourceRoot?: string };
      for (const source of sources) if (!files.has(besides(map, path.posix.join(sourceRoot, source)))) dangling.push(`${map} → ${source}`);
    }
    for (const js of [...files].filter((f) => f.endsWith(".js"))) {
      const mapping = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(fs.readFileSync(path.join(root, js), "utf8"));
      if (mapping?.[1] && !files.has(besides(js, mapping[1]))) dangling.push(`${js} → ${mapping[1]}`);
    }
    assert.deepEqual(dangling, []);
  });

  it("ships the dashboard's built UI", () => {
    const assets = [...files].filter((f) => f.startsWith("dist/web/assets/"));
    assert.ok(files.has("dist/web/index.html"), "dist/web/index.html (npm run build:web)");
    assert.ok(
      assets.some((f) => f.endsWith(".js")),
      `a script under dist/web/assets: ${assets.join(", ")}`,
    );
  });

  it("ships every bin and export target, and none of the tests, benchmarks or build state", () => {
    assert.deepEqual(Object.keys(manifest.bin).sort(), ["micro", "ts-micro"]);
    const targets = [
      ...Object.values(manifest.bin),
      ...Object.values(manifest.exports).flatMap((target) => (typeof target === "string" ? [target] : Object.values(target))),
    ];
    assert.deepEqual(
      targets.map((t) => path.posix.normalize(t)).filter((t) => !files.has(t)),
      [],
    );
    assert.deepEqual(
      [...files].filter((f) => /^dist\/(?!src\/|bundle\/|web\/)|tsbuildinfo|^test\/|^node_modules\//.test(f)),
      [],
    );
  });

  it("runs nothing in a consumer's install", () => {
    for (const script of ["preinstall", "install", "postinstall", "prepare"]) assert.equal(manifest.scripts[script], undefined, script);
  });
});
