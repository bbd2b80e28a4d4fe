#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner. Fixtures and
// helpers live beside the tests, so the runner is given the test files explicitly rather than
// its default glob (which would treat every file under a test/ folder as a test).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..", "dist", "test");
const only = process.argv.slice(2);
const files = fs
  .readdirSync(root, { recursive: true })
  .filter((f) => f.endsWith(".test.js"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()
  .map((f) => path.join(root, f));
if (files.length === 0) {
  console.error(`no test files under ${root}${only.length ? ` matching ${only.join(", ")}` : ""}; run \`npx tsc -p .\` first`);
  process.exit(1);
}
// --test-timeout caps each test file as well as each test: 5 min, so that suites with their own
// longer timeouts (multi-process and failure tests) are not cut short on a loaded machine.
// --test-force-exit ends a file once its tests are done: a handle left open by one file's cleanup
// (seen once in failure/discovery, after all its tests had passed) must not hang it until the cap.
// TAP to stdout as before, then the failed tests listed once more at the very end (failed-tests.mjs).
const reporters = ["--test-reporter=tap", "--test-reporter-destination=stdout"];
reporters.push(`--test-reporter=${path.join(import.meta.dirname, "failed-tests.mjs")}`, "--test-reporter-destination=stdout");
const result = spawnSync(process.execPath, ["--test", "--test-timeout=300000", "--test-force-exit", ...reporters, ...files], {
  stdio: "inherit",
});
process.exit(result.status ?? 1);
