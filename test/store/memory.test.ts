import { MemoryStore } from "../../src/store/memory.js";
import { storeConformance } from "../conformance/store.js";

storeConformance("memory", { create: () => new MemoryStore() });
