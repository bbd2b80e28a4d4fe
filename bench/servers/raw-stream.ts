/**
 * The streaming floor: a node:net server that answers a request frame {size, count} with `count`
 * length-prefixed frames of `size` bytes, honouring socket backpressure. Prints "READY host:port".
 */
import { serveRaw } from "../frames.js";

serveRaw((socket) => {
  socket.once("data", async (chunk: Buffer) => {
    const { size, count } = JSON.parse(chunk.subarray(4).toString()) as { size: number; count: number };
    const frame = Buffer.alloc(4 + size, 7);
    frame.writeUInt32BE(size, 0);
    // Batch small frames into ~64 KiB writes, as any sane streaming server would.
    const perWrite = Math.max(1, Math.floor(65_536 / frame.length));
    const batch = Buffer.concat(Array.from({ length: perWrite }, () => frame));
    for (let sent = 0; sent < count; sent += perWrite) {
      const n = Math.min(perWrite, count - sent);
      const ok = socket.write(n === perWrite ? batch : batch.subarray(0, n * frame.length));
      if (!ok) await new Promise((resolve) => socket.once("drain", resolve));
    }
  });
});
