/** u32-length-prefixed frames on a raw socket: the framing every raw-socket baseline uses. */
import type net from "node:net";

/** Calls `onFrame` with each complete frame's body (and whole frame) as bytes arrive. */
export function readFrames(socket: net.Socket, onFrame: (body: Buffer, whole: Buffer) => void): void {
  let pending: Buffer | undefined;
  socket.on("data", (chunk: Buffer) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let at = 0;
    while (buf.length - at >= 4) {
      const len = buf.readUInt32BE(at);
      if (buf.length - at < 4 + len) break;
      onFrame(buf.subarray(at + 4, at + 4 + len), buf.subarray(at, at + 4 + len));
      at += 4 + len;
    }
    if (at < buf.length) pending = buf.subarray(at);
  });
}

/** One frame holding `body`. */
export function frame(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}
