/**
 * `npm run bench`: runs every benchmark suite in turn, each in its own processes. Pass `--quick`
 * for a short run. Suites whose scripts are not built yet are reported and skipped.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { benchDir } from "./harness.js";

const suites = ["rpc", "stream", "auth", "broker", "registry", "interop", "grpc", "gateway", "peers"];
const args = process.argv.slice(2);
let failed = 0;
for (const suite of suites) {
  const script = path.join(benchDir, `${suite}.js`);
  if (!fs.existsSync(script)) continue;
  process.stderr.write(`\n=== ${suite} ===\n`);
  const result = spawnSync(process.execPath, [script, ...args], { stdio: "inherit" });
  if (result.status !== 0) {
    failed++;
    process.stderr.write(`bench ${suite} exited with ${result.status}\n`);
  }
}
process.exit(failed === 0 ? 0 : 1);
