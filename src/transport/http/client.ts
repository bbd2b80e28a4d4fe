/**
 * The client side of Go Micro's HTTP transport for one server address. As in Go Micro, every
 * message is one `POST /` on a raw TCP connection, a connection carries one call at a time, and
 * idle connections are kept for reuse (at most `poolSize`, each for at most `poolTtl` since it
 * was opened); any failure discards the connection. A stream gets a connection of its own.
 */
import net from "node:net";
import type tls from "node:tls";
import { ErrorId, MicroError } from "../../errors/errors.js";
import { MicroHeader } from "../../metadata/headers.js";
import { splitHostPort } from "../tcp.js";
import { connectTls, serviceVerifier, type TlsOptions } from "../tls.js";
import {
  type CallOptions,
  type ClientConnection,
  ConnectionLostError,
  type Header,
  type Message,
  NotDeliveredError,
  type TransportStream,
} from "../transport.js";
import { canonicalHeader, headerLines } from "./headers.js";
import { type HttpMessage, HttpParser, type ParserLimits } from "./parser.js";
import { HttpStream } from "./stream.js";

export interface ClientSettings extends ParserLimits {
  dialTimeout: number;
  /** Idle connections kept per address (Go Micro: 100). */
  poolSize: number;
  /** Milliseconds a connection is reused for, counted from when it was opened (Go Micro: 1 min). */
  poolTtl: number;
  streamWindow: number;
  /** Dial TLS (Go Micro's `transport.Secure`). */
  tls?: TlsOptions;
}

const CLIENT_ID = ErrorId.client;
/** Go Micro's id for a failed HTTP exchange (`go.micro.client.transport`). */
const TRANSPORT_ID = `${ErrorId.client}.transport`;
/** Framing headers of the HTTP message itself, not part of the transport message. */
const FRAMING = ["Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive"];

/** What a socket does with the responses it reads. */
interface Receiver {
  message(response: HttpMessage): void;
  /** The socket failed or closed; `answered` says whether any response byte had arrived. */
  failed(reason: string, answered: boolean): void;
}

/** One TCP connection and the response reader on it. */
class HttpSocket {
  readonly opened = Date.now();
  receiver: Receiver | undefined;
  dead = false;
  private answered = false;
  private readonly parser: HttpParser;

  constructor(
    readonly socket: net.Socket,
    limits: ParserLimits,
  ) {
    this.parser = new HttpParser("response", limits, (response) => this.receiver?.message(response));
    socket.on("data", (chunk: Buffer) => {
      this.answered = true;
      // Whatever a server sends, an exception stays here: the connection fails, the process goes on.
      try {
        const problem = this.parser.push(chunk);
        if (problem) this.fail(`bad HTTP response: ${problem.reason}`);
      } catch (err) {
        this.fail(`internal error on a response: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
    socket.on("end", () => {
      this.parser.end();
      this.fail("connection closed by the server");
    });
    socket.on("error", (err) => this.fail(err.message));
    socket.on("close", () => this.fail("connection closed"));
  }

  /** Starts an exchange: the receiver gets what the server answers from now on. */
  begin(receiver: Receiver): void {
    this.answered = false;
    this.receiver = receiver;
  }

  write(data: string | Uint8Array): boolean {
    return this.socket.write(data);
  }

  fail(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    this.socket.destroy();
    const receiver = this.receiver;
    this.receiver = undefined;
    receiver?.failed(reason, this.answered);
  }
}

export class HttpClientConnection implements ClientConnection {
  private readonly idle: HttpSocket[] = [];
  private calls = 0;
  private streams = 0;
  private shut = false;
  /** Set when TLS checks service names: from the first connection's server certificate. */
  verifyService: ((service: string) => void) | undefined = undefined;
  /** With verifyService: the certificate the names were read from; every later socket must show the same. */
  private verifiedFingerprint: string | undefined;

  constructor(
    private readonly address: string,
    private readonly settings: ClientSettings,
  ) {}

  /** Opens the first connection, so that an unreachable address fails here, before any call. */
  async connect(): Promise<this> {
    const first = await this.open();
    if (this.settings.tls) {
      const socket = first.socket as tls.TLSSocket;
      this.verifyService = serviceVerifier(socket, this.address, this.settings.tls);
      if (this.verifyService) this.verifiedFingerprint = socket.getPeerCertificate().fingerprint256;
    }
    this.release(first);
    return this;
  }

  get closed(): boolean {
    return this.shut;
  }

  get pending(): number {
    return this.calls + this.streams;
  }

  async call(request: Message, options: CallOptions = {}): Promise<Message> {
    if (this.shut) throw new NotDeliveredError(`connection to ${this.address} is closed`, this.address);
    if (options.signal?.aborted) throw MicroError.from(options.signal.reason, CLIENT_ID, "call cancelled");
    if (options.deadline !== undefined && options.deadline <= Date.now())
      throw MicroError.timeout(CLIENT_ID, "call timeout: deadline exceeded before the request was sent");
    const head = this.requestHead(request.header, request.body.length);
    const conn = this.takeIdle() ?? (await this.open());
    this.calls++;
    try {
      return await this.exchange(conn, head, request.body, options);
    } finally {
      this.calls--;
    }
  }

  stream(request: Message, options: CallOptions = {}): TransportStream {
    const conn = this.takeIdle() ?? this.connectNow();
    const opening = canonicalHeader(request.header);
    opening[MicroHeader.Stream] ??= opening[MicroHeader.Id] ?? String(Date.now());
    this.streams++;
    let finished = false;
    const stream: HttpStream = new HttpStream(
      {
        write: (message) => this.streamWrite(conn, opening, message),
        pause: () => conn.socket.pause(),
        resume: () => conn.socket.resume(),
        abort: () => conn.fail("stream cancelled"),
        finished: () => {
          if (finished) return;
          finished = true;
          this.streams--;
          // Go Micro closes a stream's connection once the stream is over.
          if (!conn.dead) conn.socket.end();
        },
      },
      this.settings.streamWindow,
    );
    conn.begin({
      message: (response) => stream.deliver(this.toMessage(response)),
      failed: (reason) => stream.lost(`connection to ${this.address} lost: ${reason}`),
    });
    stream.follow(options);
    // The opening message: Go Micro's server reads it and discards its body.
    void this.streamWrite(conn, opening, { header: {}, body: request.body }).catch(() => {});
    return stream;
  }

  close(): void {
    this.shut = true;
    for (const conn of this.idle.splice(0)) conn.socket.end();
  }

  /** Sends one request on `conn` and waits for its response, the deadline, or the caller's signal. */
  private exchange(conn: HttpSocket, head: string, body: Uint8Array, options: CallOptions): Promise<Message> {
    return new Promise<Message>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (): void => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
      };
      const giveUp = (err: MicroError): void => {
        settle();
        conn.receiver = undefined;
        conn.fail("call abandoned"); // HTTP's only way to tell the server the caller is gone
        reject(err);
      };
      const onAbort = (): void => giveUp(new MicroError(CLIENT_ID, 499, "call cancelled"));
      conn.begin({
        message: (response) => {
          settle();
          conn.receiver = undefined;
          if (wantsClose(response)) conn.fail("server closed the connection");
          else this.release(conn);
          // A transport-level 503 (a server at its connection limit) comes before the request is read.
          if (response.status === 503) reject(new NotDeliveredError(`${this.address} refused the call: ${bodyText(response)}`, this.address));
          else resolve(this.toMessage(response));
        },
        failed: (reason, answered) => {
          settle();
          reject(new ConnectionLostError(`connection to ${this.address} lost${answered ? " mid-response" : ""}: ${reason}`, this.address));
        },
      });
      if (options.deadline !== undefined) {
        const wait = options.deadline - Date.now();
        timer = setTimeout(() => giveUp(MicroError.timeout(CLIENT_ID, `call timeout: no response within ${wait} ms`)), wait);
      }
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.send(conn, head, body);
    });
  }

  private streamWrite(conn: HttpSocket, opening: Header, message: Message): Promise<void> {
    if (conn.dead) return Promise.reject(new MicroError(TRANSPORT_ID, 503, `connection to ${this.address} is closed`));
    const header = { ...opening, ...canonicalHeader(message.header) };
    if (this.send(conn, this.requestHead(header, message.body.length), message.body)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        conn.socket.off("close", onClose);
        resolve();
      };
      const onClose = (): void => {
        conn.socket.off("drain", onDrain);
        reject(new MicroError(TRANSPORT_ID, 503, `connection to ${this.address} closed`));
      };
      conn.socket.once("drain", onDrain).once("close", onClose);
    });
  }

  /** `POST / HTTP/1.1` with the message's headers in canonical form, as Go's `http.Header.Set` writes them. */
  private requestHead(header: Header, length: number): string {
    return `POST / HTTP/1.1\r\nHost: ${this.address}\r\n${headerLines(canonicalHeader(header))}Content-Length: ${length}\r\n\r\n`;
  }

  private send(conn: HttpSocket, head: string, body: Uint8Array): boolean {
    if (body.length === 0) return conn.write(head);
    if (body.length < 16 * 1024) return conn.write(Buffer.concat([Buffer.from(head), body]));
    conn.socket.cork();
    conn.write(head);
    const ok = conn.write(body);
    conn.socket.uncork();
    return ok;
  }

  /** A response as a transport message; anything but 200 becomes a transport error, as in Go Micro. */
  private toMessage(response: HttpMessage): Message {
    if (response.status !== 200) {
      const detail = `${response.status} ${response.reason}: ${bodyText(response)}`;
      return { header: { [MicroHeader.Error]: new MicroError(TRANSPORT_ID, response.status, detail).toString() }, body: new Uint8Array(0) };
    }
    const header = response.header;
    for (const key of FRAMING) delete header[key];
    return { header, body: response.body };
  }

  /** An idle connection still within its pool TTL (older ones are closed, as Go Micro's pool does). */
  private takeIdle(): HttpSocket | undefined {
    for (let conn = this.idle.pop(); conn; conn = this.idle.pop()) {
      if (Date.now() - conn.opened <= this.settings.poolTtl) return conn;
      conn.receiver = undefined;
      conn.socket.end();
    }
    return undefined;
  }

  /** Puts a connection back for reuse, unless it is old, the pool is full, or this connection is closed. */
  private release(conn: HttpSocket): void {
    const expired = Date.now() - conn.opened > this.settings.poolTtl;
    if (conn.dead) return;
    if (this.shut || expired || this.idle.length >= this.settings.poolSize) {
      conn.socket.end();
      return;
    }
    conn.begin({
      message: () => conn.fail("unexpected response on an idle connection"),
      failed: () => {
        const at = this.idle.indexOf(conn);
        if (at !== -1) this.idle.splice(at, 1);
      },
    });
    this.idle.push(conn);
  }

  /** Dials a new connection; failures are NotDeliveredErrors (nothing was sent). */
  private open(): Promise<HttpSocket> {
    const { host, port } = splitHostPort(this.address);
    const secure = this.settings.tls;
    return new Promise((resolve, reject) => {
      const socket = this.socketTo(host, port);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new NotDeliveredError(`dial ${this.address}: timed out after ${this.settings.dialTimeout} ms`, this.address));
      }, this.settings.dialTimeout);
      socket.once("error", (err) => {
        clearTimeout(timer);
        const plaintextPeer = secure && /disconnected before secure TLS connection|ECONNRESET|wrong version number|packet length too long/.test(err.message);
        const hint = plaintextPeer ? " (is the server plaintext? TLS is on in this client: MICRO_TRANSPORT_SECURE=true)" : "";
        reject(new NotDeliveredError(`dial ${this.address}: ${secure ? "TLS: " : ""}${err.message.trim()}${hint}`, this.address));
      });
      socket.once(secure ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        if (!this.sameServer(socket)) {
          socket.destroy();
          return reject(new NotDeliveredError(`dial ${this.address}: TLS: the server's certificate changed since its names were checked`, this.address));
        }
        resolve(new HttpSocket(socket, this.settings));
      });
    });
  }

  /** A connection whose writes queue until it is established (streams are opened synchronously). */
  private connectNow(): HttpSocket {
    const { host, port } = splitHostPort(this.address);
    const conn = new HttpSocket(this.socketTo(host, port), this.settings);
    if (this.verifiedFingerprint !== undefined) {
      conn.socket.once("secureConnect", () => {
        if (!this.sameServer(conn.socket)) conn.fail("the server's certificate changed since its names were checked");
      });
    }
    return conn;
  }

  /** False when service names are checked and this socket's server shows another certificate than the first. */
  private sameServer(socket: net.Socket): boolean {
    if (this.verifiedFingerprint === undefined) return true;
    return (socket as tls.TLSSocket).getPeerCertificate().fingerprint256 === this.verifiedFingerprint;
  }

  /** A plain or TLS socket to the server, as the settings say. */
  private socketTo(host: string, port: number): net.Socket {
    const secure = this.settings.tls;
    if (secure) return connectTls(host || "127.0.0.1", port, secure);
    return net.connect({ host: host || "127.0.0.1", port, noDelay: true });
  }
}

function wantsClose(response: HttpMessage): boolean {
  const connection = response.header.Connection?.toLowerCase();
  return connection === "close" || (response.minor === 0 && connection !== "keep-alive");
}

/** A short, single-line excerpt of an error response's body for an error's detail. */
function bodyText(response: HttpMessage): string {
  return response.body.toString("utf8", 0, Math.min(response.body.length, 512)).trim();
}
