/**
 * The floor: a node:net server that echoes length-prefixed frames (u32 length + bytes) with no
 * framework at all. Prints "READY host:port".
 */
import net from "node:net";
import { readFrames } from "../frames.js";

const server = net.createServer({ noDelay: true }, (socket) => {
  // Echo every complete frame; frames that arrived together leave together.
  let batch: Buffer[] = [];
  readFrames(socket, (_body, whole) => {
    if (batch.length === 0) process.nextTick(flush);
    batch.push(whole);
  });
  const flush = (): void => {
    socket.write(batch.length === 1 ? Buffer.from(batch[0]) : Buffer.concat(batch));
    batch = [];
  };
  socket.on("error", () => {});
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as net.AddressInfo;
  process.stdout.write(`READY 127.0.0.1:${port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
