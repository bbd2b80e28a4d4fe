export * from "./transport.js";
export { MemoryTransport } from "./memory.js";
export { MuxTransport, type MuxOptions } from "./mux/mux.js";
export { HttpTransport, type HttpTransportOptions } from "./http/http.js";
