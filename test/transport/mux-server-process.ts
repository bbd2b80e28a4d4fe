/**
 * A mux server in its own process, for tests that measure its memory: `node
 * mux-server-process.js '<MuxOptions as JSON>'` prints its address on stdout, then serves until
 * killed. A request's `X-Reply-Bytes` header sets the size of its reply (one shared buffer, so
 * replies cost the server nothing until it queues them); without it, the request is echoed.
 * Streams are echoed message by message.
 */
import { createLogger } from "../../src/logger/logger.js";
import { MuxTransport } from "../../src/transport/mux/mux.js";

const reply = Buffer.alloc(1024 * 1024, 0x61);
const transport = new MuxTransport({ ...JSON.parse(process.argv[2] ?? "{}"), logger: createLogger({ level: "silent" }) });
const listener = await transport.listen("127.0.0.1:0", {
  handler: async (request) => {
    const size = request.header["X-Reply-Bytes"];
    return { header: {}, body: size === undefined ? request.body : reply.subarray(0, Number(size)) };
  },
  streamHandler: (_request, stream) => {
    void (async () => {
      for (let message = await stream.recv(); message; message = await stream.recv()) await stream.send(message);
      stream.end();
    })().catch(() => stream.cancel("echo failed"));
  },
});
process.stdout.write(`${listener.address}\n`);
