/**
 * mux connection health (issue 12): a server that freezes (SIGSTOP) while calls wait on it is
 * found by the client's pings, and its connection fails with ConnectionLostError, as a dropped
 * connection does, long before the calls' deadlines.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MicroError } from "../../src/errors/errors.js";
import { MuxTransport } from "../../src/transport/mux/mux.js";
import { ConnectionLostError } from "../../src/transport/transport.js";
import { recordingLogger } from "../setup/logger.js";
import { serverProcess } from "./mux-peer.js";

describe("mux connection health", () => {
  it("fails the calls on a frozen server with ConnectionLostError, well before their deadline", async () => {
    const server = await serverProcess({});
    const client = new MuxTransport({ pingInterval: 100, probeTimeout: 300, logger: recordingLogger([]) });
    const conn = await client.dial(server.address);
    try {
      await conn.call({ header: {}, body: Buffer.from("warm") });
      server.signal("SIGSTOP");
      const started = Date.now();
      const calls = [1, 2, 3].map((i) => conn.call({ header: {}, body: Buffer.from(String(i)) }, { deadline: Date.now() + 5_000 }));
      for (const call of calls) {
        await assert.rejects(call, (err: unknown) => {
          assert.ok(err instanceof ConnectionLostError, `a connection loss, not ${err instanceof MicroError ? `a ${err.code}` : String(err)}`);
          assert.match(err.message, /did not answer a ping within 300 ms/);
          return true;
        });
      }
      assert.equal(conn.closed, true);
      process.stderr.write(`frozen server detected after ${Date.now() - started} ms (ping interval 100 ms, probe timeout 300 ms)\n`);
    } finally {
      server.signal("SIGCONT");
      conn.close();
      server.stop();
    }
  });

  it("keeps the connection to a live server whose calls run longer than the ping interval", async () => {
    const transport = new MuxTransport({ pingInterval: 50, probeTimeout: 100, logger: recordingLogger([]) });
    const listener = await transport.listen("127.0.0.1:0", {
      handler: async (req) => {
        await new Promise((r) => setTimeout(r, Number(Buffer.from(req.body).toString())));
        return { header: {}, body: req.body };
      },
    });
    const conn = await transport.dial(listener.address);
    try {
      // One slow call while quick ones keep answering: the peer is plainly alive.
      const slow = conn.call({ header: {}, body: Buffer.from("400") });
      const until = Date.now() + 400;
      while (Date.now() < until) await conn.call({ header: {}, body: Buffer.from("5") });
      assert.equal(Buffer.from((await slow).body).toString(), "400");
      // A slow call alone gets pings, which a live server answers: the call still completes.
      assert.equal(Buffer.from((await conn.call({ header: {}, body: Buffer.from("400") })).body).toString(), "400");
      assert.equal(conn.closed, false);
    } finally {
      conn.close();
      listener.destroy();
    }
  });
});
