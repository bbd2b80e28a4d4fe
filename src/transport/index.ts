export * from "./transport.js";
export { MemoryTransport } from "./memory.js";
export { MuxTransport, type MuxOptions } from "./mux/mux.js";
