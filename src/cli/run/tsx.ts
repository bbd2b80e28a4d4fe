/**
 * How a service runs straight from TypeScript: `node --import <tsx> entry.ts`, one process per
 * service (tsx's own CLI would add a second process between us and the service, in the way of
 * signals). tsx comes from the project when it has one, so its version is the project's choice,
 * else from ts-micro's own dependencies.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The file URL of tsx's loader (`--import` takes it) as resolved from `dir`, else from ts-micro. */
export function tsxLoader(dir: string): string {
  for (const from of [path.join(dir, "package.json"), import.meta.url]) {
    try {
      return pathToFileURL(createRequire(from).resolve("tsx")).href;
    } catch {
      // Not installed there: try the next place.
    }
  }
  throw new Error("tsx is not installed: run `npm install tsx` in the project (ts-micro needs it to run TypeScript services)");
}

/** The node arguments that run `entry` with tsx. */
export function tsxArgs(dir: string, entry: string): string[] {
  return ["--import", tsxLoader(dir), entry];
}

/**
 * The node arguments of a standby process for `entry` (run/standby.ts): tsx and ts-micro loaded,
 * the entry imported once a line arrives on its stdin.
 */
export function standbyArgs(dir: string, entry: string): string[] {
  return ["--import", tsxLoader(dir), fileURLToPath(new URL("./standby.js", import.meta.url)), entry];
}
