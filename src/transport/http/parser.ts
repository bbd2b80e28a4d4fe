/**
 * An incremental HTTP/1.1 reader for one connection: feed it bytes as they arrive, it hands out
 * whole messages (requests on a server connection, responses on a client connection). It reads
 * what Go's `http.ReadRequest` / `http.ReadResponse` accept on a hijacked connection: a start
 * line, header lines, and a body framed by Content-Length or chunked transfer coding.
 *
 * Every byte is looked at once: a head or body that arrives in many small reads is kept as the
 * list of reads and joined once when complete, so a peer trickling a message costs O(n), not
 * O(n²). Malformed or oversize input is reported once, with the HTTP status a server should
 * answer (400, 413, 431); the connection is unusable after that.
 */
import type { Header } from "../transport.js";
import { canonicalKey, isTokenChar, UNSAFE_VALUE } from "./headers.js";

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
  /** Header lines in one head. */
  maxHeaders: number;
  /** Bytes of one body. */
  maxBodyBytes: number;
}

/** Where the reader is: between messages, inside a head, or inside a body. */
export type ParsePhase = "idle" | "head" | "body";

type State = "head" | "length" | "chunk-size" | "chunk-data" | "chunk-end" | "trailer" | "until-close" | "failed";

/** How far the search for the blank line that ends a head has got (carried across reads). */
const enum Blank {
  None,
  AfterLf,
  AfterLfCr,
}

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);
const LF_LF = Buffer.from("\n\n");
const LF_CR_LF = Buffer.from("\n\r\n");
/** Longest chunk-size line (size, extensions) accepted. */
const MAX_CHUNK_LINE = 1024;
const CONTENT_LENGTH = "Content-Length";
const TRANSFER_ENCODING = "Transfer-Encoding";

export class HttpParser {
  private state: State = "head";
  /** Bytes not yet looked at; non-empty only while the reader is held. */
  private input: Buffer = EMPTY;
  private held = false;
  /** The head so far, as the reads it came in. */
  private headParts: Buffer[] = [];
  private headBytes = 0;
  private blank = Blank.None;
  /** The start line of the head being read was found well-formed. */
  private startChecked = false;
  /** A chunk-size line so far (small: at most MAX_CHUNK_LINE bytes). */
  private line: Buffer = EMPTY;
  private sawCr = false;
  private message: HttpMessage | undefined;
  private bodyParts: Buffer[] = [];
  /** Bytes in bodyParts. */
  private partBytes = 0;
  private bodyBytes = 0;
  private remaining = 0;
  /** Messages handed out so far; tells one message's head from the next one's. */
  messages = 0;

  constructor(
    private readonly kind: "request" | "response",
    private readonly limits: ParserLimits,
    private readonly onMessage: (message: HttpMessage) => void,
  ) {}

  /** Feeds bytes; returns a ParseError once the input cannot be a valid message. */
  push(chunk: Buffer): ParseError | undefined {
    if (this.state === "failed") return undefined;
    // Only a held reader keeps input; its connection has stopped reading, so this stays small.
    this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk]);
    return this.run();
  }

  /** Stops after the message being handed out: what follows waits for release(). */
  hold(): void {
    this.held = true;
  }

  get isHeld(): boolean {
    return this.held;
  }

  /** Goes on with input kept while held. */
  release(): ParseError | undefined {
    this.held = false;
    return this.state === "failed" ? undefined : this.run();
  }

  /** The peer closed: a response framed by the end of the connection is complete now. */
  end(): void {
    if (this.state === "until-close" && this.message) this.finish();
  }

  /** Stops reading: bytes after the current message are ignored (the connection is closing). */
  stop(): void {
    this.state = "failed";
    this.held = false;
    this.input = EMPTY;
    this.headParts = [];
    this.bodyParts = [];
    this.partBytes = 0;
  }

  get phase(): ParsePhase {
    if (this.state === "head") return this.headBytes > 0 || this.input.length > 0 ? "head" : "idle";
    return this.state === "failed" ? "idle" : "body";
  }

  /** Bytes of the message being read (and of input held back) that this reader keeps. */
  get buffered(): number {
    return (this.state === "head" ? this.headBytes : 0) + this.partBytes + this.input.length;
  }

  /** True while part of a message has arrived but not all of it. */
  get partial(): boolean {
    return this.phase !== "idle";
  }

  private run(): ParseError | undefined {
    while (this.input.length > 0 && !this.held) {
      const used = this.step(this.input);
      if (typeof used !== "number") {
        this.stop();
        return used;
      }
      if (this.state === "failed") return undefined; // stopped by the message handler
      this.input = used === this.input.length ? EMPTY : this.input.subarray(used);
    }
    return undefined;
  }

  /** Consumes bytes from the front of `data`: returns how many, or why the input is bad. */
  private step(data: Buffer): number | ParseError {
    switch (this.state) {
      case "head":
        return this.readHead(data);
      case "length":
      case "chunk-data":
        return this.readBody(data);
      case "chunk-size":
        return this.readChunkSize(data);
      case "chunk-end":
        return this.readChunkEnd(data);
      case "trailer":
        return this.readTrailer(data);
      case "until-close":
        return this.readUntilClose(data);
      default:
        return data.length;
    }
  }

  private readHead(data: Buffer): number | ParseError {
    let from = 0;
    // Go tolerates empty lines before a request (left over from a previous message's CRLF).
    if (this.headBytes === 0) {
      while (from < data.length && (data[from] === CR || data[from] === LF)) from++;
      if (from === data.length) return from;
    }
    const end = this.findBlankLine(data, from);
    const upTo = end === -1 ? data.length : end + 1;
    this.headBytes += upTo - from;
    if (this.headBytes > this.limits.maxHeaderBytes) return { status: 431, reason: "request header fields too large" };
    this.headParts.push(data.subarray(from, upTo));
    if (end === -1) return this.checkStartLine() ?? upTo;
    const head = this.headParts.length === 1 ? this.headParts[0] : Buffer.concat(this.headParts);
    this.headParts = [];
    this.headBytes = 0;
    this.blank = Blank.None;
    const problem = this.parseHead(head);
    return problem ?? upTo;
  }

  /**
   * While a head is incomplete, its start line is checked as soon as it is whole: garbage is
   * refused at once rather than held until the head timeout.
   */
  private checkStartLine(): ParseError | undefined {
    if (this.startChecked) return undefined;
    const last = this.headParts[this.headParts.length - 1];
    if (last.indexOf(LF) === -1) return undefined;
    this.startChecked = true;
    const head = this.headParts.length === 1 ? last : Buffer.concat(this.headParts);
    const line = head.toString("utf8", 0, head.indexOf(LF)).replace(/\r$/, "");
    const message = this.kind === "request" ? parseRequestLine(line) : parseStatusLine(line);
    return "header" in message ? undefined : message;
  }

  /**
   * The index in `data` of the LF that ends an empty line, or -1. A line may end in CRLF or a
   * bare LF, as Go's textproto reads it; a blank line begun at the end of one read is finished
   * in the next. The search itself is two native scans, not a loop over the lines.
   */
  private findBlankLine(data: Buffer, from: number): number {
    let i = from;
    if (this.blank === Blank.AfterLf) {
      if (data[i] === LF) return i;
      if (data[i] === CR) {
        if (i + 1 === data.length) {
          this.blank = Blank.AfterLfCr;
          return -1;
        }
        if (data[i + 1] === LF) return i + 1;
      }
    } else if (this.blank === Blank.AfterLfCr) {
      if (data[i] === LF) return i;
    }
    this.blank = Blank.None;
    const lfLf = data.indexOf(LF_LF, i);
    const lfCrLf = data.indexOf(LF_CR_LF, i);
    if (lfLf !== -1 || lfCrLf !== -1) return Math.min(lfLf === -1 ? Infinity : lfLf + 1, lfCrLf === -1 ? Infinity : lfCrLf + 2);
    i = data.length;
    if (data[i - 1] === LF) this.blank = Blank.AfterLf;
    else if (i - from >= 2 && data[i - 1] === CR && data[i - 2] === LF) this.blank = Blank.AfterLfCr;
    return -1;
  }

  private parseHead(head: Buffer): ParseError | undefined {
    this.startChecked = false;
    const lines = head.toString("utf8").split(/\r?\n/);
    lines.length -= 2; // the blank line's two empty strings
    if (lines.length - 1 > this.limits.maxHeaders) return { status: 431, reason: `more than ${this.limits.maxHeaders} header fields` };
    const message = this.kind === "request" ? parseRequestLine(lines[0]) : parseStatusLine(lines[0]);
    if (!("header" in message)) return message;
    return parseHeaderLines(lines, message.header) ?? this.startBody(message);
  }

  private startBody(message: HttpMessage): ParseError | undefined {
    this.message = message;
    this.bodyParts = [];
    this.partBytes = 0;
    this.bodyBytes = 0;
    const encoding = message.header[TRANSFER_ENCODING];
    const length = message.header[CONTENT_LENGTH];
    if (encoding !== undefined) {
      if (encoding.toLowerCase() !== "chunked") return { status: 400, reason: `unsupported Transfer-Encoding ${JSON.stringify(encoding)}` };
      if (length !== undefined) return { status: 400, reason: "both Transfer-Encoding and Content-Length" };
      this.state = "chunk-size";
      return undefined;
    }
    if (length !== undefined) {
      if (!/^\d{1,15}$/.test(length)) return { status: 400, reason: `bad Content-Length ${JSON.stringify(length.slice(0, 32))}` };
      this.remaining = Number(length);
      if (this.remaining > this.limits.maxBodyBytes) return tooLarge(this.remaining, this.limits.maxBodyBytes);
      if (this.remaining > 0) {
        this.state = "length";
        return undefined;
      }
    } else if (this.kind === "response" && message.status >= 200 && message.status !== 204 && message.status !== 304) {
      // A response without framing runs to the end of the connection; a request has no body.
      this.state = "until-close";
      return undefined;
    }
    this.finish();
    return undefined;
  }

  /** Content-Length bodies and chunk data: `remaining` bytes, kept as the reads they came in. */
  private readBody(data: Buffer): number {
    const take = Math.min(this.remaining, data.length);
    this.bodyParts.push(take === data.length ? data : data.subarray(0, take));
    this.partBytes += take;
    this.remaining -= take;
    if (this.remaining === 0) {
      if (this.state === "length") this.finish();
      else this.state = "chunk-end";
    }
    return take;
  }

  private readChunkSize(data: Buffer): number | ParseError {
    const eol = data.indexOf(LF);
    const part = eol === -1 ? data : data.subarray(0, eol);
    if (this.line.length + part.length > MAX_CHUNK_LINE) return { status: 400, reason: "chunk size line too long" };
    this.line = this.line.length === 0 ? part : Buffer.concat([this.line, part]);
    if (eol === -1) return data.length;
    const text = this.line.toString("latin1").replace(/\r$/, "");
    this.line = EMPTY;
    const size = text.split(";")[0].trim();
    if (!/^[0-9a-fA-F]{1,12}$/.test(size)) return { status: 400, reason: `bad chunk size ${JSON.stringify(size.slice(0, 32))}` };
    this.remaining = parseInt(size, 16);
    if (this.remaining === 0) {
      this.state = "trailer";
      this.blank = Blank.AfterLf; // an empty line right away ends the trailer
      this.headBytes = 0;
      return eol + 1;
    }
    if (this.bodyBytes + this.remaining > this.limits.maxBodyBytes) return tooLarge(this.bodyBytes + this.remaining, this.limits.maxBodyBytes);
    this.bodyBytes += this.remaining;
    this.state = "chunk-data";
    return eol + 1;
  }

  /** The CRLF (or bare LF) after a chunk's data. */
  private readChunkEnd(data: Buffer): number | ParseError {
    const byte = data[0];
    if (byte === LF) {
      this.sawCr = false;
      this.state = "chunk-size";
      return 1;
    }
    if (byte === CR && !this.sawCr) {
      this.sawCr = true;
      return 1;
    }
    return { status: 400, reason: "chunk data not followed by CRLF" };
  }

  /** Trailer fields are read and dropped (Go Micro never sends them); an empty line ends them. */
  private readTrailer(data: Buffer): number | ParseError {
    const end = this.findBlankLine(data, 0);
    const upTo = end === -1 ? data.length : end + 1;
    this.headBytes += upTo;
    if (this.headBytes > this.limits.maxHeaderBytes) return { status: 431, reason: "trailer too large" };
    if (end !== -1) {
      this.headBytes = 0;
      this.blank = Blank.None;
      this.finish();
    }
    return upTo;
  }

  private readUntilClose(data: Buffer): number | ParseError {
    this.bodyBytes += data.length;
    if (this.bodyBytes > this.limits.maxBodyBytes) return tooLarge(this.bodyBytes, this.limits.maxBodyBytes);
    this.bodyParts.push(data);
    this.partBytes += data.length;
    return data.length;
  }

  private finish(): void {
    const message = this.message!;
    const parts = this.bodyParts;
    message.body = parts.length === 1 ? parts[0] : parts.length === 0 ? EMPTY : Buffer.concat(parts);
    this.message = undefined;
    this.bodyParts = [];
    this.partBytes = 0;
    this.state = "head";
    this.messages++;
    this.onMessage(message);
  }
}

function tooLarge(size: number, limit: number): ParseError {
  return { status: 413, reason: `body of ${size} bytes exceeds the limit of ${limit} bytes` };
}

function blank(): HttpMessage {
  return { method: "", target: "", status: 0, reason: "", minor: 1, header: {}, body: EMPTY };
}

/**
 * `METHOD target HTTP/1.x`. The target is what Go's server takes: a path (`/`, as Go Micro
 * sends), an absolute URL (through a proxy) or `*`, in visible ASCII.
 */
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}) (\/[\x21-\x7e]*|https?:\/\/[\x21-\x7e]+|\*) HTTP\/1\.([01])$/;

function parseRequestLine(line: string): HttpMessage | ParseError {
  const match = REQUEST_LINE.exec(line);
  if (!match) return { status: 400, reason: `malformed request line ${JSON.stringify(line.slice(0, 64))}` };
  const message = blank();
  message.method = match[1];
  message.target = match[2];
  message.minor = Number(match[3]);
  return message;
}

function parseStatusLine(line: string): HttpMessage | ParseError {
  const match = /^HTTP\/1\.([01]) (\d{3})(?: ([^\0\r\n]*))?$/.exec(line);
  if (!match) return { status: 400, reason: `malformed status line ${JSON.stringify(line.slice(0, 64))}` };
  const message = blank();
  message.minor = Number(match[1]);
  message.status = Number(match[2]);
  message.reason = match[3] ?? "";
  return message;
}

/**
 * Header lines into `header`. Names are tokens; values hold no control characters (NUL, a bare
 * CR …), as Go's server requires. A repeated header keeps its first value, except the two that
 * frame the body: differing Content-Lengths, or two Transfer-Encodings, are refused, since two
 * readers could otherwise split the stream into different messages (request smuggling).
 */
function parseHeaderLines(lines: string[], header: Header): ParseError | undefined {
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0 || line[0] === " " || line[0] === "\t") return { status: 400, reason: `malformed header line ${JSON.stringify(line.slice(0, 64))}` };
    const rawKey = line.slice(0, colon);
    if (!validKey(rawKey)) return { status: 400, reason: `malformed header name ${JSON.stringify(rawKey.slice(0, 64))}` };
    const value = line.slice(colon + 1).trim();
    if (UNSAFE_VALUE.test(value)) return { status: 400, reason: `control character in the value of header ${JSON.stringify(rawKey.slice(0, 64))}` };
    const key = canonicalKey(rawKey);
    const earlier = header[key];
    if (earlier === undefined) header[key] = value;
    else if (key === TRANSFER_ENCODING || (key === CONTENT_LENGTH && earlier !== value)) return { status: 400, reason: `conflicting ${key} headers` };
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
