import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after } from "node:test";
import { CacheRegistry } from "../../src/registry/cache.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { registryConformance } from "../conformance/registry.js";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory per test, so local registries never see each other's records. */
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-registry-"));
  dirs.push(dir);
  return dir;
}

registryConformance("memory", () => new MemoryRegistry({ sweepInterval: 100 }));
registryConformance("local", () => new LocalRegistry({ path: tempDir() }));
registryConformance("cache over memory", () => new CacheRegistry(new MemoryRegistry({ sweepInterval: 100 }), { closeInner: true }));
registryConformance("cache over local", () => new CacheRegistry(new LocalRegistry({ path: tempDir() }), { closeInner: true }));
