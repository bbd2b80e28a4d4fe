/**
 * The floor: a node:net server that echoes length-prefixed frames (u32 length + bytes) with no
 * framework at all. Prints "READY host:port".
 */
import { readFrames, serveRaw } from "../frames.js";

serveRaw((socket) => {
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
});
