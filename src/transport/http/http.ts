/**
 * `http`: Go Micro's HTTP transport, byte for byte where it matters, so Go Micro services and
 * ts-micro services call each other. `MICRO_TRANSPORT=http` makes a service speak only this; by
 * default a service listens with `mux`, whose port also answers this protocol (see
 * `goMicroSniffer`), and a client uses this transport for nodes that do not advertise mux.
 */
import net from "node:net";
import { logger, type Logger } from "../../logger/logger.js";
import { listenTcp } from "../tcp.js";
import type { ClientConnection, Listener, ListenOptions, Transport } from "../transport.js";
import { HttpClientConnection } from "./client.js";
import { type ServedConnection, type ServerSettings, serveHttpConnection } from "./server.js";

export interface HttpTransportOptions {
  /** Largest message body accepted, in bytes (default 4 MiB; larger requests get 413). */
  maxMessageSize?: number;
  /** Largest request or response head, in bytes (default 1 MiB, as Go's http.Server). */
  maxHeaderBytes?: number;
  /** Milliseconds to wait for a TCP connection (default 5 s). */
  dialTimeout?: number;
  /** Idle connections kept per server address (default 100, as Go Micro). */
  poolSize?: number;
  /** Milliseconds a connection is reused, counted from when it was opened (default 60 s, as Go Micro). */
  poolTtl?: number;
  /** Bytes a stream's reader may fall behind before the connection stops being read (default 1 MiB). */
  streamWindow?: number;
  /** Milliseconds a client may take to send one whole request once it started (default 10 s). */
  requestTimeout?: number;
  logger?: Logger;
}

interface Settings extends ServerSettings {
  dialTimeout: number;
  poolSize: number;
  poolTtl: number;
}

function settingsFrom(options: HttpTransportOptions): Settings {
  return {
    maxBodyBytes: options.maxMessageSize ?? 4 * 1024 * 1024,
    maxHeaderBytes: options.maxHeaderBytes ?? 1024 * 1024,
    dialTimeout: options.dialTimeout ?? 5_000,
    poolSize: options.poolSize ?? 100,
    poolTtl: options.poolTtl ?? 60_000,
    streamWindow: options.streamWindow ?? 1024 * 1024,
    requestTimeout: options.requestTimeout ?? 10_000,
    logger: options.logger ?? logger(),
  };
}

export class HttpTransport implements Transport {
  readonly name = "http";
  private readonly settings: Settings;

  constructor(options: HttpTransportOptions = {}) {
    this.settings = settingsFrom(options);
  }

  listen(address: string, options: ListenOptions): Promise<Listener> {
    return listenTcp(address, (socket) => serveHttpConnection(socket, Buffer.alloc(0), options, this.settings), this.settings.logger, "http transport");
  }

  async dial(address: string, options: { timeout?: number } = {}): Promise<ClientConnection> {
    const settings = options.timeout === undefined ? this.settings : { ...this.settings, dialTimeout: options.timeout };
    return new HttpClientConnection(address, settings).connect();
  }
}

/** What a mux listener calls with a connection that did not start with the mux preface. */
export type Sniffer = (socket: net.Socket, firstBytes: Buffer, options: ListenOptions) => ServedConnection | undefined;

/**
 * Lets a mux port answer Go Micro's HTTP transport: a connection whose first bytes look like an
 * HTTP request line (`POST / HTTP/1.1`) is served as one. Anything else is left to mux.
 */
export function goMicroSniffer(options: HttpTransportOptions = {}): Sniffer {
  const settings = settingsFrom(options);
  return (socket, firstBytes, listenOptions) => {
    if (!looksLikeHttp(firstBytes)) return undefined;
    return serveHttpConnection(socket, firstBytes, listenOptions, settings);
  };
}

/** An upper-case method token followed by a space (or the start of one: the first read may be short). */
function looksLikeHttp(bytes: Buffer): boolean {
  const n = Math.min(bytes.length, 8);
  for (let i = 0; i < n; i++) {
    const c = bytes[i];
    if (c === 0x20) return i > 0;
    if (c < 0x41 || c > 0x5a) return false;
  }
  return n > 0 && n === bytes.length;
}

export type { ServedConnection };
