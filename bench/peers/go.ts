/**
 * Builds the Go Micro v5 echo server and load client (bench/go, its own Go module) into
 * bench/go/bin at bench time. Modules come from the Go module proxy on the first build and from
 * the module cache after that.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export interface GoBuild {
  server: string;
  load: string;
}

function findGo(): string | undefined {
  // $GO, when set, is the only candidate, so a run can be pointed at one toolchain.
  const candidates = process.env.GO ? [process.env.GO] : ["go", "/usr/local/go/bin/go"];
  return candidates.find((c) => spawnSync(c, ["version"]).status === 0);
}

/** Returns the two binaries, or a reason why Go Micro cannot be benchmarked here. */
export function buildGo(moduleDir: string): GoBuild | string {
  const go = findGo();
  if (!go) return "no Go toolchain (looked for $GO, go on PATH and /usr/local/go/bin/go)";
  if (!fs.existsSync(path.join(moduleDir, "go.mod"))) return `no Go module at ${moduleDir}`;
  process.stderr.write(`building Go Micro v5 echo server and load client (${go} build in ${moduleDir}) …\n`);
  // -x would be noisy; Go prints module downloads on stderr by itself, which is the progress.
  const build = spawnSync(go, ["build", "-o", "bin/", "./echo-server", "./load"], {
    cwd: moduleDir,
    stdio: ["ignore", "inherit", "pipe"],
    encoding: "utf8",
    timeout: 300_000,
  });
  process.stderr.write(build.stderr ?? "");
  if (build.status !== 0) {
    const why = build.error?.message ?? (build.stderr || "").trim().split("\n").slice(-6).join(" | ");
    return `go build failed (exit ${build.status}): ${why}`;
  }
  return { server: path.join(moduleDir, "bin", "echo-server"), load: path.join(moduleDir, "bin", "load") };
}
