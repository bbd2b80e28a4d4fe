/**
 * How the gateway answers over HTTP: JSON bodies, and errors as Go Micro's error JSON
 * (`{id, code, detail, status}`) with the HTTP status of the error's code.
 */
import type { ServerResponse } from "node:http";
import { MicroError } from "../errors/errors.js";

/** The id of errors the gateway raises itself (a service's errors keep the service's id). */
export const GATEWAY_ERROR_ID = "go.micro.gateway";

/**
 * The HTTP status for an error code: the code itself when it is an HTTP error status, except a
 * timeout (408), which the gateway answers as 504: the caller did not time out, the upstream did.
 * Anything else (0 for a plain-text error from a peer, a code outside 400–599) is a 500.
 */
export function httpStatusOf(code: number): number {
  if (code === 408) return 504;
  return code >= 400 && code <= 599 ? code : 500;
}

/** Anything thrown, as a MicroError (non-MicroErrors become 500s). */
export function asMicroError(err: unknown): MicroError {
  return MicroError.from(err, GATEWAY_ERROR_ID);
}

export function sendJson(res: ServerResponse, status: number, body: string | Uint8Array, headers?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const length = String(Buffer.byteLength(body));
  res.writeHead(
    status,
    headers ? { ...headers, "Content-Type": "application/json", "Content-Length": length } : { "Content-Type": "application/json", "Content-Length": length },
  );
  res.end(body);
}

/** The error as Go Micro's error JSON with its HTTP status; a response already under way is cut instead. */
export function sendError(res: ServerResponse, err: unknown, headers?: Record<string, string>): void {
  const error = asMicroError(err);
  // The rest of an oversize body is not worth reading: the connection closes after the answer.
  const close = error.code === 413 ? { Connection: "close" } : undefined;
  sendJson(res, httpStatusOf(error.code), error.toString(), close ? { ...headers, ...close } : headers);
}

export function gatewayError(code: number, detail: string): MicroError {
  return new MicroError(GATEWAY_ERROR_ID, code, detail);
}
