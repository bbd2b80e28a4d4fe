/**
 * An incremental HTTP/1.1 reader for one connection: feed it bytes as they arrive, it hands out
 * whole messages (requests on a server connection, responses on a client connection). It reads
 * what Go's `http.ReadRequest` / `http.ReadResponse` accept on a hijacked connection: a start
 * line, header lines, and a body framed by Content-Length or chunked transfer coding.
 *
 * Malformed or oversize input is reported once, with the HTTP status a server should answer
 * (400, 413, 431); the connection is unusable after that.
 */
import type { Header } from "../transport.js";
import { canonicalKey, isTokenChar } from "./headers.js";

export interface HttpMessage {
  /** Requests: the method and target. */
  method: string;
  target: string;
  /** Responses: the status code and reason phrase. */
  status: number;
  reason: string;
  /** HTTP/1.0 or 1.1, as minor version. */
  minor: number;
  /** Canonical keys; the first value of a repeated header, as Go's `Header.Get`. */
  header: Header;
  body: Buffer;
}

export interface ParseError {
  status: 400 | 413 | 431;
  reason: string;
}

export interface ParserLimits {
  /** Bytes of start line plus headers (Go's DefaultMaxHeaderBytes: 1 MiB). */
  maxHeaderBytes: number;
  /** Bytes of one body. */
  maxBodyBytes: number;
}

type State = "head" | "length" | "chunk-size" | "chunk-data" | "chunk-end" | "trailer" | "until-close" | "failed";

const CRLF_CRLF = Buffer.from("\r\n\r\n");
const LF_LF = Buffer.from("\n\n");
const EMPTY = Buffer.alloc(0);

export class HttpParser {
  private state: State = "head";
  private buffer: Buffer = EMPTY;
  private message: HttpMessage | undefined;
  private chunks: Buffer[] = [];
  private bodyBytes = 0;
  private remaining = 0;

  constructor(
    private readonly kind: "request" | "response",
    private readonly limits: ParserLimits,
    private readonly onMessage: (message: HttpMessage) => void,
  ) {}

  /** Feeds bytes; returns a ParseError once the input cannot be a valid message. */
  push(chunk: Buffer): ParseError | undefined {
    if (this.state === "failed") return undefined;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const problem = this.drain();
    if (problem) {
      this.state = "failed";
      this.buffer = EMPTY;
    }
    return problem;
  }

  /** The peer closed: a response framed by the end of the connection is complete now. */
  end(): void {
    if (this.state === "until-close" && this.message) {
      this.chunks.push(this.buffer);
      this.buffer = EMPTY;
      this.finish();
    }
  }

  /** Stops reading: bytes after the current message are ignored (the connection is closing). */
  stop(): void {
    this.state = "failed";
    this.buffer = EMPTY;
  }

  /** True while part of a message has arrived but not all of it. */
  get partial(): boolean {
    return this.buffer.length > 0 || this.state !== "head";
  }

  private drain(): ParseError | undefined {
    while (this.state !== "failed") {
      const before = this.buffer.length;
      const state = this.state;
      const problem = this.step();
      if (problem) return problem;
      if (this.state === state && this.buffer.length === before) return undefined; // needs more bytes
    }
    return undefined;
  }

  private step(): ParseError | undefined {
    switch (this.state) {
      case "head":
        return this.readHead();
      case "length":
        return this.readLength();
      case "chunk-size":
        return this.readChunkSize();
      case "chunk-data":
        return this.readChunkData();
      case "chunk-end":
        return this.readChunkEnd();
      case "trailer":
        return this.readTrailer();
      case "until-close":
        return this.readUntilClose();
      default:
        return undefined;
    }
  }

  private readHead(): ParseError | undefined {
    // Go tolerates empty lines before a request (left over from a previous message's CRLF).
    let start = 0;
    while (start < this.buffer.length && (this.buffer[start] === 0x0d || this.buffer[start] === 0x0a)) start++;
    if (start > 0) this.buffer = this.buffer.subarray(start);
    if (this.buffer.length === 0) return undefined;
    const { end, skip } = headEnd(this.buffer);
    if (end === -1) {
      return this.buffer.length > this.limits.maxHeaderBytes ? { status: 431, reason: "request header fields too large" } : undefined;
    }
    if (end > this.limits.maxHeaderBytes) return { status: 431, reason: "request header fields too large" };
    const text = this.buffer.toString("utf8", 0, end);
    this.buffer = this.buffer.subarray(end + skip);
    const lines = text.split(/\r?\n/);
    const message = this.kind === "request" ? parseRequestLine(lines[0]) : parseStatusLine(lines[0]);
    if (!("header" in message)) return message;
    const problem = parseHeaderLines(lines, message.header);
    if (problem) return problem;
    return this.startBody(message);
  }

  private startBody(message: HttpMessage): ParseError | undefined {
    this.message = message;
    this.chunks = [];
    this.bodyBytes = 0;
    const encoding = message.header["Transfer-Encoding"];
    const length = message.header["Content-Length"];
    if (encoding !== undefined) {
      if (encoding.toLowerCase() !== "chunked") return { status: 400, reason: `unsupported Transfer-Encoding ${JSON.stringify(encoding)}` };
      if (length !== undefined) return { status: 400, reason: "both Transfer-Encoding and Content-Length" };
      this.state = "chunk-size";
      return undefined;
    }
    if (length !== undefined) {
      if (!/^\d{1,15}$/.test(length.trim())) return { status: 400, reason: `bad Content-Length ${JSON.stringify(length)}` };
      this.remaining = Number(length.trim());
      if (this.remaining > this.limits.maxBodyBytes) return tooLarge(this.remaining, this.limits.maxBodyBytes);
      this.state = "length";
      return undefined;
    }
    // A response without framing runs to the end of the connection; a request has no body.
    if (this.kind === "response" && message.status >= 200 && message.status !== 204 && message.status !== 304) {
      this.state = "until-close";
      return undefined;
    }
    this.finish();
    return undefined;
  }

  private readLength(): ParseError | undefined {
    if (this.remaining > 0) {
      const take = Math.min(this.remaining, this.buffer.length);
      if (take === 0) return undefined;
      this.chunks.push(this.buffer.subarray(0, take));
      this.buffer = this.buffer.subarray(take);
      this.remaining -= take;
    }
    if (this.remaining === 0) this.finish();
    return undefined;
  }

  private readChunkSize(): ParseError | undefined {
    const eol = this.buffer.indexOf(0x0a);
    if (eol === -1) return this.buffer.length > 1024 ? { status: 400, reason: "chunk size line too long" } : undefined;
    const line = this.buffer.toString("latin1", 0, eol).replace(/\r$/, "");
    this.buffer = this.buffer.subarray(eol + 1);
    const size = line.split(";")[0].trim();
    if (!/^[0-9a-fA-F]{1,12}$/.test(size)) return { status: 400, reason: `bad chunk size ${JSON.stringify(size)}` };
    this.remaining = parseInt(size, 16);
    if (this.remaining === 0) {
      this.state = "trailer";
      return undefined;
    }
    if (this.bodyBytes + this.remaining > this.limits.maxBodyBytes) return tooLarge(this.bodyBytes + this.remaining, this.limits.maxBodyBytes);
    this.bodyBytes += this.remaining;
    this.state = "chunk-data";
    return undefined;
  }

  private readChunkData(): ParseError | undefined {
    const take = Math.min(this.remaining, this.buffer.length);
    if (take > 0) {
      this.chunks.push(this.buffer.subarray(0, take));
      this.buffer = this.buffer.subarray(take);
      this.remaining -= take;
    }
    if (this.remaining === 0) this.state = "chunk-end";
    return undefined;
  }

  private readChunkEnd(): ParseError | undefined {
    if (this.buffer.length < 1) return undefined;
    if (this.buffer[0] === 0x0a) this.buffer = this.buffer.subarray(1);
    else if (this.buffer.length < 2) return undefined;
    else if (this.buffer[0] === 0x0d && this.buffer[1] === 0x0a) this.buffer = this.buffer.subarray(2);
    else return { status: 400, reason: "chunk data not followed by CRLF" };
    this.state = "chunk-size";
    return undefined;
  }

  private readTrailer(): ParseError | undefined {
    // Trailer fields are read and dropped (Go Micro never sends them); an empty line ends them.
    for (;;) {
      const eol = this.buffer.indexOf(0x0a);
      if (eol === -1) return this.buffer.length > this.limits.maxHeaderBytes ? { status: 431, reason: "trailer too large" } : undefined;
      const empty = eol === 0 || (eol === 1 && this.buffer[0] === 0x0d);
      this.buffer = this.buffer.subarray(eol + 1);
      if (empty) {
        this.finish();
        return undefined;
      }
    }
  }

  private readUntilClose(): ParseError | undefined {
    this.bodyBytes += this.buffer.length;
    if (this.bodyBytes > this.limits.maxBodyBytes) return tooLarge(this.bodyBytes, this.limits.maxBodyBytes);
    if (this.buffer.length > 0) this.chunks.push(this.buffer);
    this.buffer = EMPTY;
    return undefined;
  }

  private finish(): void {
    const message = this.message!;
    message.body = this.chunks.length === 1 ? this.chunks[0] : this.chunks.length === 0 ? EMPTY : Buffer.concat(this.chunks);
    this.message = undefined;
    this.chunks = [];
    this.state = "head";
    this.onMessage(message);
  }
}

function tooLarge(size: number, limit: number): ParseError {
  return { status: 413, reason: `body of ${size} bytes exceeds the limit of ${limit} bytes` };
}

/** Where the head ends (index of the blank line) and how many bytes the terminator takes. */
function headEnd(buffer: Buffer): { end: number; skip: number } {
  const crlf = buffer.indexOf(CRLF_CRLF);
  const lf = buffer.indexOf(LF_LF);
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return { end: crlf, skip: 4 };
  if (lf !== -1) return { end: lf, skip: 2 };
  return { end: -1, skip: 0 };
}

function blank(): HttpMessage {
  return { method: "", target: "", status: 0, reason: "", minor: 1, header: {}, body: EMPTY };
}

function parseRequestLine(line: string): HttpMessage | ParseError {
  const match = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/1\.([01])$/.exec(line);
  if (!match) return { status: 400, reason: `malformed request line ${JSON.stringify(line.slice(0, 64))}` };
  const message = blank();
  message.method = match[1];
  message.target = match[2];
  message.minor = Number(match[3]);
  return message;
}

function parseStatusLine(line: string): HttpMessage | ParseError {
  const match = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(line);
  if (!match) return { status: 400, reason: `malformed status line ${JSON.stringify(line.slice(0, 64))}` };
  const message = blank();
  message.minor = Number(match[1]);
  message.status = Number(match[2]);
  message.reason = match[3] ?? "";
  return message;
}

function parseHeaderLines(lines: string[], header: Header): ParseError | undefined {
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0 || line[0] === " " || line[0] === "\t") return { status: 400, reason: `malformed header line ${JSON.stringify(line.slice(0, 64))}` };
    const rawKey = line.slice(0, colon);
    if (!validKey(rawKey)) return { status: 400, reason: `malformed header name ${JSON.stringify(rawKey.slice(0, 64))}` };
    const key = canonicalKey(rawKey);
    if (!(key in header)) header[key] = line.slice(colon + 1).trim();
  }
  return undefined;
}

/** Token characters, plus non-ASCII (UTF-8) letters, which ts-micro peers may send in metadata keys. */
function validKey(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x80 && !isTokenChar(c)) return false;
  }
  return true;
}
