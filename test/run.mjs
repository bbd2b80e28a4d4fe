#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner. Fixtures and
// helpers live beside the tests, so the runner is given the test files explicitly rather than
// its default glob (which would treat every file under a test/ folder as a test).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
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
// TAP to stdout; failed-tests.mjs notes each failed test in a file, listed below once the run is over.
const failedFile = path.join(os.tmpdir(), `ts-micro-failed-tests-${process.pid}.jsonl`);
fs.rmSync(failedFile, { force: true });
const reporters = ["--test-reporter=tap", "--test-reporter-destination=stdout"];
reporters.push(`--test-reporter=${path.join(import.meta.dirname, "failed-tests.mjs")}`, "--test-reporter-destination=stdout");
const result = spawnSync(process.execPath, ["--test", "--test-timeout=300000", "--test-force-exit", ...reporters, ...files], {
  stdio: "inherit",
  env: { ...process.env, FAILED_TESTS_FILE: failedFile },
});
listFailed(failedFile);
process.exit(result.status ?? 1);

/** Prints the failed tests failed-tests.mjs noted, with the first lines of each error. */
function listFailed(file) {
  if (!fs.existsSync(file)) return;
  const failed = fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
  fs.rmSync(file, { force: true });
  if (failed.length === 0) return;
  console.log(`\n# ${failed.length} failed:`);
  for (const { file, name, error } of failed) {
    console.log(`- ${path.relative(process.cwd(), file ?? "")}: ${name}\n    ${error.split("\n").slice(0, 6).join("\n    ")}`);
  }
}
