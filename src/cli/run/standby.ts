/**
 * A service process started ahead of need: `node --import <tsx> standby.js <entry>` loads tsx and
 * ts-micro (the slow part of a start, seconds on a loaded machine, and code that a save in the
 * project does not change) and warms tsx's compiler, then waits for a line on stdin before importing the entry. micro run
 * keeps one of these per watched service, so a restart imports only the service's own code, as
 * it is on disk at that moment.
 *
 * Run as a script, not imported. It prints nothing of its own; a failure to preload is ignored
 * (the entry's own import then reports it).
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const entry = path.resolve(process.argv[2] ?? "");
// The entry sees itself as the script, as with `node --import <tsx> entry.ts`.
process.argv.splice(1, 2, entry);

try {
  // As the entry's `import "ts-micro"` resolves it, so that import then finds it loaded.
  await import(pathToFileURL(createRequire(entry).resolve("ts-micro")).href);
} catch {
  // Not resolvable from the entry (a service without ts-micro): nothing to warm.
}

// tsx's first TypeScript file starts its compiler (esbuild: some 0.4 s on a busy machine): one
// of ours, with content of its own so that tsx's cache cannot answer for it, is that first file.
const warm = path.join(os.tmpdir(), `ts-micro-standby-${process.pid}.ts`);
try {
  fs.writeFileSync(warm, `export const loadedAt: number = ${Date.now()};\n`);
  await import(pathToFileURL(warm).href);
} catch {
  // Only slower without it.
} finally {
  fs.rmSync(warm, { force: true });
}

await new Promise<void>((resolve) => {
  const onData = (chunk: Buffer): void => {
    if (!chunk.includes(0x0a)) return;
    process.stdin.off("data", onData);
    resolve();
  };
  process.stdin.on("data", onData);
  // micro run went away without asking for it: nothing to run.
  process.stdin.once("end", () => process.exit(0));
});
process.stdin.removeAllListeners("end");
process.stdin.destroy();
await import(pathToFileURL(entry).href);
