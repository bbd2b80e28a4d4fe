import { CacheRegistry } from "../../src/registry/cache.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { registryConformance } from "../conformance/registry.js";
import { tempDirs } from "../setup/temp-dirs.js";

/** A fresh directory per test, so local registries never see each other's records. */
const tempDir = tempDirs("ts-micro-registry-");

registryConformance("memory", () => new MemoryRegistry({ sweepInterval: 100 }));
registryConformance("local", () => new LocalRegistry({ path: tempDir() }));
registryConformance("cache over memory", () => new CacheRegistry(new MemoryRegistry({ sweepInterval: 100 }), { closeInner: true }));
registryConformance("cache over local", () => new CacheRegistry(new LocalRegistry({ path: tempDir() }), { closeInner: true }));
