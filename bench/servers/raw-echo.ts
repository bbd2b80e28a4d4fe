/**
 * The floor: a node:net server that echoes length-prefixed frames (u32 length + bytes) with no
 * framework at all. Prints "READY host:port".
 */
import net from "node:net";

const server = net.createServer({ noDelay: true }, (socket) => {
  let pending: Buffer | undefined;
  socket.on("data", (chunk: Buffer) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let at = 0;
    const out: Buffer[] = [];
    while (buf.length - at >= 4) {
      const len = buf.readUInt32BE(at);
      if (buf.length - at < 4 + len) break;
      out.push(buf.subarray(at, at + 4 + len));
      at += 4 + len;
    }
    if (at < buf.length) pending = buf.subarray(at);
    if (out.length) socket.write(out.length === 1 ? Buffer.from(out[0]) : Buffer.concat(out));
  });
  socket.on("error", () => {});
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as net.AddressInfo;
  process.stdout.write(`READY 127.0.0.1:${port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
