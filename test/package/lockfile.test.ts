/**
 * A fresh clone's `npm install` leaves package-lock.json as committed, and no locked package
 * (dev dependencies included) declares an engine this Node does not satisfy. Checked with
 * `npm install --package-lock-only --engine-strict` on a copy of package.json and the lockfile:
 * npm resolves the whole tree as a fresh install would, without installing it.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { it } from "node:test";
import { promisify } from "node:util";

const root = path.resolve(import.meta.dirname, "..", "..", "..");

it("package-lock.json is what npm install writes, and every locked package supports this Node", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-lock-"));
  try {
    for (const file of ["package.json", "package-lock.json"]) fs.copyFileSync(path.join(root, file), path.join(dir, file));
    const args = ["install", "--package-lock-only", "--engine-strict", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund"];
    await promisify(execFile)("npm", args, { cwd: dir, timeout: 120_000 }).catch((err: { stderr?: string }) =>
      assert.fail(`npm install --package-lock-only --engine-strict failed:\n${err.stderr}`),
    );
    const committed = fs.readFileSync(path.join(root, "package-lock.json"), "utf8");
    assert.ok(fs.readFileSync(path.join(dir, "package-lock.json"), "utf8") === committed, "npm install would rewrite package-lock.json");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
