import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after } from "node:test";
import { StoreRules } from "../../src/auth/store-rules.js";
import { FileStore } from "../../src/store/file.js";
import { MemoryStore } from "../../src/store/memory.js";
import { rulesConformance } from "../conformance/auth-rules.js";

// One store per backend, as every node of a system shares one; each test has its own table.
const memory = new MemoryStore();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-rules-"));
const file = new FileStore({ dir });
after(async () => {
  await file.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

rulesConformance("store rules on the memory store", { create: (table) => new StoreRules({ store: memory, table, refreshInterval: 100 }) });
// Two FileStore instances on one directory stand for two processes on one host.
rulesConformance("store rules on the file store", {
  create: (table) => new StoreRules({ store: new FileStore({ dir }), table, refreshInterval: 100, ownsStore: true }),
});
