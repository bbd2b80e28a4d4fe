/**
 * Fresh temporary directories for a test file, all removed after its tests: for stores and
 * registries kept on disk, so no test sees another's records.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after } from "node:test";

/** Returns a maker of directories named `<tmp>/<prefix>XXXXXX`; call at the file's top level. */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}
