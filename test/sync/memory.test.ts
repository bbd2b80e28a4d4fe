/** The memory Sync against the conformance suite. */
import { MemoryLockTable, MemorySync } from "../../src/sync/memory.js";
import { syncConformance } from "../conformance/sync.js";

const table = new MemoryLockTable();
syncConformance("memory", {
  create: () => new MemorySync({ table }),
  abandon: (sync) => (sync as MemorySync).abandon(),
  shortTtl: 300,
});
