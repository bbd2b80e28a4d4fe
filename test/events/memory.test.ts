import { MemoryStream } from "../../src/events/memory.js";
import { eventsConformance } from "../conformance/events.js";
import { quiet } from "../setup/logger.js";

// One instance stands for "the process": its consumers must see each other's events.
const shared = new MemoryStream({ logger: quiet });
eventsConformance("memory", { create: () => shared });
