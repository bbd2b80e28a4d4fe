/**
 * A second floor for the gateway benchmark: HTTP/1.1 parsed by hand on node:net, echoing the
 * request body. It understands only what the benchmark's load generator sends (keep-alive
 * requests with a Content-Length body) and skips everything a real server must do (limits,
 * chunked bodies, validation, timeouts): it is the most HTTP can cost in JavaScript, not a server
 * to use. Prints "READY <url>".
 */
import net, { type AddressInfo } from "node:net";

const HEAD_END = Buffer.from("\r\n\r\n");
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;

/** The responses for every complete request in `input`, and what is left of it. */
function answer(input: Buffer): { responses: Buffer[]; rest: Buffer } {
  const responses: Buffer[] = [];
  let at = 0;
  for (;;) {
    const end = input.indexOf(HEAD_END, at);
    if (end === -1) break;
    const length = Number(CONTENT_LENGTH.exec(input.toString("latin1", at, end))?.[1] ?? 0);
    const bodyStart = end + HEAD_END.length;
    if (input.length < bodyStart + length) break;
    responses.push(
      Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`, "latin1"),
      input.subarray(bodyStart, bodyStart + length),
    );
    at = bodyStart + length;
  }
  return { responses, rest: input.subarray(at) };
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let pending: Buffer = Buffer.alloc(0);
  socket.on("data", (data: Buffer) => {
    const { responses, rest } = answer(pending.length === 0 ? data : Buffer.concat([pending, data]));
    pending = rest;
    if (responses.length > 0) socket.write(Buffer.concat(responses));
  });
  socket.on("error", () => socket.destroy());
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`READY http://127.0.0.1:${(server.address() as AddressInfo).port}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
