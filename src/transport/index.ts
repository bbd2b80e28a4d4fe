export { HttpTransport, type HttpTransportOptions } from "./http/http.js";
export { MemoryTransport } from "./memory.js";
export { type MuxOptions, type MuxTlsOptions, MuxTransport, type Pem } from "./mux/mux.js";
export * from "./transport.js";
