/**
 * TLS for the mux transport: the generic TLS server and dialer (../tls.ts) with mux's way of
 * telling a refused mux client why: a GoAway frame carrying the error, which it reads before the
 * connection closes (a client without the certificate mTLS requires, or a plaintext mux client
 * talking to a TLS server). An HTTP client of the same port gets an HTTP status instead.
 */
import type net from "node:net";
import { ErrorId, MicroError } from "../../errors/errors.js";
import { MicroHeader } from "../../metadata/headers.js";
import { FrameType, PREFACE } from "../framing/frame.js";
import { FrameWriter } from "../framing/frame-writer.js";
import { encodeHeader } from "../framing/header-block.js";
import type { TlsOptions, TlsProtocol } from "../tls.js";
import type { MuxLimits } from "./options.js";

export type { Pem } from "../tls.js";
export { connectTls, looksLikeTls, serviceVerifier, TlsServer, verifiedPeerCertificate } from "../tls.js";

/** The mux transport's TLS options (see TlsOptions). */
export type MuxTlsOptions = TlsOptions;

/** Refusals as a mux GoAway, to a client that sent the mux preface (over TLS or plaintext). */
export function muxTlsProtocol(limits: MuxLimits): TlsProtocol {
  return {
    label: "mux",
    tellRefused(socket: net.Socket, reason: string, firstBytes: Buffer): boolean {
      if (!isMuxPreface(firstBytes)) return false;
      const err = new MicroError(ErrorId.transport, 403, reason);
      const writer = new FrameWriter((bytes) => socket.write(bytes), limits);
      writer.push(FrameType.GoAway, 0, encodeHeader({ [MicroHeader.Error]: err.toString() }), Buffer.alloc(0));
      writer.flush();
      return true;
    },
  };
}

/** The first bytes of a mux client (all of them, or as many as arrived). */
function isMuxPreface(chunk: Buffer): boolean {
  return PREFACE.subarray(0, Math.min(chunk.length, PREFACE.length)).equals(chunk.subarray(0, PREFACE.length));
}
