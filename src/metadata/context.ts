/**
 * The context of a call being served: who is calling, the metadata that came with the call, the
 * deadline and an AbortSignal. The server makes one per request; the client reads one to make a
 * call on the caller's behalf (it inherits the metadata, minus hop headers, and the deadline).
 */
import type { Account } from "./account.js";
import { type Header, MicroHeader } from "./headers.js";
import { Metadata } from "./metadata.js";

export interface Caller {
  /** The calling service's name, when the caller is a ts-micro or Go Micro service that says so. */
  service?: string;
  /** The caller's network address. */
  address: string;
  /** The certificate the caller presented over mTLS, verified against the server's CA. */
  certificate?: PeerCertificate;
}

/** What a verified client certificate says about its holder. */
export interface PeerCertificate {
  /** The subject's common name (CN), or "" when it has none. */
  commonName: string;
  /** The subjectAltName entries as OpenSSL prints them: `DNS:caller`, `IP Address:127.0.0.1`, `URI:…`. */
  subjectAltNames: string[];
  /** SHA-256 fingerprint, colon-separated hex. */
  fingerprint256: string;
}

export interface Context {
  /** The service the call was addressed to. */
  readonly service: string;
  /** `<Handler>.<Method>`. */
  readonly endpoint: string;
  /** The call's metadata (the request headers); keys are case-insensitive. */
  readonly metadata: Metadata;
  /**
   * Metadata sent back to the caller with the answer (`ctx.responseMetadata.set("x-served-by", …)`):
   * gRPC response headers (keys lowercased; what is set after a stream's first message goes in
   * the trailers), mux response headers, HTTP response headers. The caller reads it with the
   * call option `onResponseMetadata`. Framework headers (`Micro-*`, `Content-Type`, `grpc-*`)
   * cannot be set. A broker message has no answer: what is set there goes nowhere.
   */
  readonly responseMetadata: Metadata;
  /** When the caller stops waiting, in ms since the epoch (undefined: no deadline). */
  readonly deadline: number | undefined;
  /** Fires when the caller cancels, disconnects, or the deadline passes. */
  readonly signal: AbortSignal;
  readonly caller: Caller;
  /**
   * The caller's account, once auth has checked the call's token (Go Micro's
   * `auth.AccountFromContext`). Undefined without auth, or for a call a public rule let in
   * without a token.
   */
  account?: Account;
}

/**
 * Headers that describe one hop and must not be copied onto the next one: every framework header
 * (they name this call's service, endpoint, id, deadline …) and HTTP's per-connection headers.
 */
const HOP_HEADERS = new Set([...Object.values(MicroHeader).map((name) => name.toLowerCase()), "content-length", "accept", "host", "user-agent", "connection"]);

export function isHopHeader(key: string): boolean {
  return HOP_HEADERS.has(key.toLowerCase());
}

/** Header names a handler may not set in its response metadata: the framework's and the protocols' own. */
function reservedResponseKey(lower: string): boolean {
  return (
    HOP_HEADERS.has(lower) ||
    lower.startsWith(":") ||
    lower.startsWith("grpc-") ||
    lower === "content-type" ||
    lower === "te" ||
    lower === "date" ||
    lower.startsWith("x-micro-")
  );
}

/**
 * The response metadata in `header`: its entries minus the framework's and the protocols' own
 * headers. Used on both sides: by the server on what a handler set, by the client on what came back.
 */
export function responseMetadataOf(header: Header): Header {
  const out: Header = {};
  for (const key in header) if (!reservedResponseKey(key.toLowerCase())) out[key] = header[key];
  return out;
}

/** Metadata to carry onto calls made while serving `ctx` (hop headers removed). */
export function propagatedMetadata(ctx: Context): Metadata {
  const out = new Metadata();
  for (const [key, value] of ctx.metadata) if (!isHopHeader(key)) out.set(key, value);
  return out;
}
