/** u32-length-prefixed frames on a raw socket: the framing every raw-socket baseline uses. */
import net from "node:net";

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

/**
 * A raw-socket baseline server: `onSocket` per connection (socket errors ignored), listening on
 * a free loopback port; prints "READY host:port" for the bench harness and exits on SIGTERM.
 */
export function serveRaw(onSocket: (socket: net.Socket) => void): void {
  const server = net.createServer({ noDelay: true }, (socket) => {
    onSocket(socket);
    socket.on("error", () => {});
  });
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as net.AddressInfo;
    process.stdout.write(`READY 127.0.0.1:${port}\n`);
  });
  process.on("SIGTERM", () => process.exit(0));
}
