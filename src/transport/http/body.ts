/**
 * Reading a node:http request's body with a size limit, as the HTTP gateway, its dashboard and
 * MCP over HTTP do. Over the limit, the rest of the body is read and dropped (up to a drain
 * bound) before the caller answers 413: a client still sending when the server closes the
 * connection gets a reset instead of the answer (fetch reports only "fetch failed"). Past the
 * drain bound, or when the declared Content-Length is past it, the answer goes first and the
 * caller closes the connection (`Connection: close`), as reading on would cost more than the
 * client deserves.
 */
import type { IncomingMessage } from "node:http";

/** Bytes of an oversize body read and dropped before the 413 goes out, by default. */
export const DEFAULT_DRAIN_LIMIT = 16 * 1024 * 1024;

/** The body is larger than `limit`; answer 413 (with `Connection: close`). */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
    this.name = "BodyTooLargeError";
  }
}

export interface ReadBodyOptions {
  /** Bytes of an oversize body read and dropped before rejecting (default 16 MiB). */
  drainLimit?: number;
}

/**
 * The whole body, at most `limit` bytes; rejects with BodyTooLargeError beyond (once the rest is
 * drained, see above), or with the stream's error when the client goes away mid-body.
 */
export function readBody(req: IncomingMessage, limit: number, options: ReadBodyOptions = {}): Promise<Buffer> {
  const drainLimit = Math.max(limit, options.drainLimit ?? DEFAULT_DRAIN_LIMIT);
  if (Number(req.headers["content-length"]) > drainLimit) {
    req.resume(); // dropped while the answer goes out; the connection then closes
    return Promise.reject(new BodyTooLargeError(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      chunks.length = 0;
      if (size <= drainLimit) return;
      req.off("data", onData).off("end", onEnd);
      req.resume();
      reject(new BodyTooLargeError(limit));
    };
    const onEnd = (): void => {
      if (size > limit) reject(new BodyTooLargeError(limit));
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    req.on("data", onData).once("end", onEnd).once("error", reject);
    req.once("close", () => {
      if (!req.complete) reject(new Error("the client went away before sending the whole body"));
    });
  });
}
