import { MemoryTransport } from "../../src/transport/memory.js";
import { MuxTransport } from "../../src/transport/mux/mux.js";
import { transportConformance } from "../conformance/transport.js";

transportConformance("memory", () => new MemoryTransport(), "");
transportConformance("mux", () => new MuxTransport());
