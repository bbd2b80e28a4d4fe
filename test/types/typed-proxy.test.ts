/**
 * The typed proxy at compile time: `tsc` over test/types/fixtures (as a project would import
 * ts-micro: through the package name, i.e. the built declarations), under strict plus
 * noUncheckedIndexedAccess, exactOptionalPropertyTypes and noPropertyAccessFromIndexSignature,
 * without skipLibCheck. compiles.ts must compile; each line of rejects.ts marked `// error TSnnnn`
 * must fail with exactly that code, and nothing else may fail.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";

const root = path.resolve(import.meta.dirname, "..", "..", "..");
const fixtures = path.join(root, "test", "types", "fixtures");
const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");

/** "file(line,col): error TSnnnn: …" lines of tsc's output, as "file:line TSnnnn". */
async function diagnostics(): Promise<string[]> {
  const result = await promisify(execFile)(process.execPath, [tsc, "-p", fixtures, "--pretty", "false"], { cwd: root, timeout: 120_000 }).then(
    () => ({ stdout: "" }),
    (err: { stdout?: string; code?: unknown }) => {
      if (typeof err.code !== "number") throw err;
      return { stdout: err.stdout ?? "" };
    },
  );
  return [...result.stdout.matchAll(/^(?:.*[\\/])?([\w.-]+\.ts)\((\d+),\d+\): error (TS\d+)/gm)].map(([, file, line, code]) => `${file}:${line} ${code}`);
}

/** The `// error TSnnnn` marks of a fixture, as "file:line TSnnnn". */
function expected(file: string): string[] {
  const lines = fs.readFileSync(path.join(fixtures, file), "utf8").split("\n");
  return lines.flatMap((text, i) => {
    const mark = /\/\/ error (TS\d+)\s*$/.exec(text);
    return mark ? [`${file}:${i + 1} ${mark[1]}`] : [];
  });
}

describe("typed proxy (compile time)", () => {
  it("accepts README-style calls and rejects misspelt handlers, methods and wrong types", async () => {
    const found = await diagnostics();
    const wanted = expected("rejects.ts");
    assert.ok(wanted.length >= 8, "rejects.ts has its marks");
    assert.ok(wanted.includes("rejects.ts:8 TS2551"), "the misspelt handler name is among the marks");
    assert.deepEqual(found.sort(), wanted.sort());
  });
});
