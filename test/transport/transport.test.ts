import { HttpTransport } from "../../src/transport/http/http.js";
import { MemoryTransport } from "../../src/transport/memory.js";
import { MuxTransport } from "../../src/transport/mux/mux.js";
import { transportConformance } from "../conformance/transport.js";

transportConformance("memory", () => new MemoryTransport(), "");
transportConformance("mux", () => new MuxTransport());
// HTTP/1.1 has no flow control of its own: TCP buffers on loopback hold several MiB beyond the window.
transportConformance("http", () => new HttpTransport(), "127.0.0.1:0", { slackBytes: 7 * 1024 * 1024 });
