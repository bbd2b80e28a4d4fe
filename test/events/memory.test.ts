import { MemoryStream } from "../../src/events/memory.js";
import { createLogger } from "../../src/logger/logger.js";
import { eventsConformance } from "../conformance/events.js";

// One instance stands for "the process": its consumers must see each other's events.
const shared = new MemoryStream({ logger: createLogger({ level: "silent" }) });
eventsConformance("memory", { create: () => shared });
