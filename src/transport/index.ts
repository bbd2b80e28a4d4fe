export { HttpTransport, type HttpTransportOptions } from "./http/http.js";
export { MemoryTransport } from "./memory.js";
export { type MuxOptions, MuxTransport } from "./mux/mux.js";
export * from "./transport.js";
