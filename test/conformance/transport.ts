/**
 * The Transport conformance suite: every transport runs it.
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { after, describe, it } from "node:test";
import { MicroError } from "../../src/errors/errors.js";
import { MicroHeader } from "../../src/metadata/headers.js";
import {
  type IncomingCall,
  type Listener,
  type Message,
  NotDeliveredError,
  type RequestHandler,
  type StreamHandler,
  type Transport,
  type TransportStream,
} from "../../src/transport/transport.js";

const text = (m: Message): string => Buffer.from(m.body).toString();
const msg = (header: Record<string, string>, body: string): Message => ({ header, body: Buffer.from(body) });

/**
 * `slackBytes`: how much a transport may let a producer run ahead beyond its own window — the
 * kernel's TCP buffers, for a transport whose only flow control is TCP's (Go Micro's HTTP).
 */
export function transportConformance(name: string, create: () => Transport, listenAddress = "127.0.0.1:0", options: { slackBytes?: number } = {}): void {
  describe(`transport conformance: ${name}`, () => {
    const listeners: Listener[] = [];
    after(() => {
      for (const l of listeners) l.destroy();
    });

    async function serve(handler: RequestHandler, streamHandler?: StreamHandler): Promise<{ transport: Transport; listener: Listener }> {
      const transport = create();
      const listener = await transport.listen(listenAddress, { handler, streamHandler });
      listeners.push(listener);
      return { transport, listener };
    }

    it("delivers a request and its response with headers and body intact", async () => {
      const { transport, listener } = await serve(async (req) =>
        msg({ Echo: req.header[MicroHeader.Endpoint], [MicroHeader.ContentType]: "text/plain" }, `got ${text(req)}`),
      );
      const conn = await transport.dial(listener.address);
      const rsp = await conn.call(msg({ [MicroHeader.Endpoint]: "Echo.Say", "X-Ünicode": "värde" }, "hi ✓"));
      assert.equal(rsp.header.Echo, "Echo.Say");
      assert.equal(rsp.header[MicroHeader.ContentType], "text/plain");
      assert.equal(text(rsp), "got hi ✓");
      conn.close();
    });

    it("takes a handler's answer through respond, given at once or later", async () => {
      const { transport, listener } = await serve((req, _call, respond) => {
        const answer = msg({ Way: "respond" }, `got ${text(req)}`);
        if (text(req) === "now") respond(answer);
        else setTimeout(() => respond(answer), 5);
        return undefined;
      });
      const conn = await transport.dial(listener.address);
      const [now, later] = await Promise.all([conn.call(msg({}, "now")), conn.call(msg({}, "later"))]);
      assert.equal(now.header.Way, "respond");
      assert.equal(text(now), "got now");
      assert.equal(text(later), "got later");
      conn.close();
    });

    it("answers 500 for a handler that throws or rejects, and keeps serving", async () => {
      const { transport, listener } = await serve(async (req) => {
        if (text(req) === "reject") throw new Error("handler bug");
        if (text(req) === "ok") return msg({}, "fine");
        return Promise.reject(new Error("handler bug"));
      });
      const thrower = await serve(() => {
        throw new Error("handler bug");
      });
      const conn = await transport.dial(listener.address);
      for (const input of ["reject", "other"]) {
        const rsp = await conn.call(msg({}, input));
        assert.equal(MicroError.parse(rsp.header[MicroHeader.Error]!).code, 500, `${input}: ${rsp.header[MicroHeader.Error]}`);
      }
      assert.equal(text(await conn.call(msg({}, "ok"))), "fine", "the listener still serves");
      const other = await thrower.transport.dial(thrower.listener.address);
      assert.equal(MicroError.parse((await other.call(msg({}, "x"))).header[MicroHeader.Error]!).code, 500);
      conn.close();
      other.close();
    });

    it("carries empty and binary bodies", async () => {
      const { transport, listener } = await serve(async (req) => ({ header: {}, body: req.body }));
      const conn = await transport.dial(listener.address);
      assert.equal((await conn.call({ header: {}, body: new Uint8Array(0) })).body.length, 0);
      const binary = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 256));
      assert.deepEqual(Buffer.from((await conn.call({ header: {}, body: binary })).body), binary);
      conn.close();
    });

    it("runs many concurrent calls on one connection and matches each response to its request", async () => {
      const { transport, listener } = await serve(async (req) => {
        await new Promise((r) => setTimeout(r, Math.random() * 5));
        return msg({}, text(req));
      });
      const conn = await transport.dial(listener.address);
      const results = await Promise.all(Array.from({ length: 500 }, (_, i) => conn.call(msg({}, String(i)))));
      for (const [i, rsp] of results.entries()) assert.equal(text(rsp), String(i));
      conn.close();
    });

    it("fails a call with 408 at its deadline and tells the server the caller gave up", async () => {
      let serverSignal: AbortSignal | undefined;
      const { transport, listener } = await serve(async (_req, call: IncomingCall) => {
        serverSignal = call.signal;
        await new Promise((r) => setTimeout(r, 1_000));
        return msg({}, "late");
      });
      const conn = await transport.dial(listener.address);
      const started = Date.now();
      await assert.rejects(conn.call(msg({}, "x"), { deadline: Date.now() + 100 }), (err: unknown) => err instanceof MicroError && err.code === 408);
      assert.ok(Date.now() - started < 900, "the call returned at its deadline, not when the handler finished");
      for (let i = 0; i < 50 && !serverSignal?.aborted; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(serverSignal?.aborted, true, "the server side's signal fired");
      conn.close();
    });

    it("cancels a call when the caller's AbortSignal fires", async () => {
      const { transport, listener } = await serve(() => new Promise(() => {}));
      const conn = await transport.dial(listener.address);
      const controller = new AbortController();
      const pending = conn.call(msg({}, "x"), { signal: controller.signal });
      setTimeout(() => controller.abort(), 20);
      await assert.rejects(pending, (err: unknown) => err instanceof MicroError && err.code === 499);
      conn.close();
    });

    it("leaves no listener on the caller's AbortSignal once a call has finished", async () => {
      // One signal may serve many calls (the gateway shares one per keep-alive connection).
      const { transport, listener } = await serve(async (req) => msg({}, text(req)));
      const conn = await transport.dial(listener.address);
      const controller = new AbortController();
      for (let i = 0; i < 20; i++) await conn.call(msg({}, String(i)), { signal: controller.signal });
      assert.equal(getEventListeners(controller.signal, "abort").length, 0, "finished calls left listeners on the signal");
      conn.close();
    });

    it("reports a dial to a closed address as not delivered", async () => {
      const { transport, listener } = await serve(async () => msg({}, ""));
      const address = listener.address;
      listener.destroy();
      await new Promise((r) => setTimeout(r, 20));
      await assert.rejects((async () => (await transport.dial(address)).call(msg({}, "x")))(), (err: unknown) => err instanceof NotDeliveredError);
    });

    it("lets calls in flight finish after the listener closes", async () => {
      const { transport, listener } = await serve(async () => {
        await new Promise((r) => setTimeout(r, 100));
        return msg({}, "done");
      });
      const conn = await transport.dial(listener.address);
      const inflight = conn.call(msg({}, "x"));
      await new Promise((r) => setTimeout(r, 20));
      await listener.close();
      assert.equal(text(await inflight), "done");
    });

    const noCalls: RequestHandler = async () => msg({}, "");

    async function drain(stream: TransportStream): Promise<string[]> {
      const out: string[] = [];
      for (let m = await stream.recv(); m; m = await stream.recv()) out.push(text(m));
      return out;
    }

    it("streams messages both ways, in order, with half-close", async () => {
      const { transport, listener } = await serve(noCalls, (request, stream) => {
        void (async () => {
          assert.equal(request.header[MicroHeader.Endpoint], "Echo.Stream");
          for (let m = await stream.recv(); m; m = await stream.recv()) await stream.send(msg({}, `echo ${text(m)}`));
          stream.end();
        })();
      });
      const conn = await transport.dial(listener.address);
      const stream = conn.stream(msg({ [MicroHeader.Endpoint]: "Echo.Stream" }, ""));
      for (let i = 0; i < 100; i++) await stream.send(msg({}, String(i)));
      stream.end();
      assert.deepEqual(
        await drain(stream),
        Array.from({ length: 100 }, (_, i) => `echo ${i}`),
      );
      conn.close();
    });

    it("makes a producer wait while its consumer is behind (flow control)", async () => {
      let sent = 0;
      let producerDone = false;
      const { transport, listener } = await serve(noCalls, (_request, stream) => {
        void (async () => {
          for (let i = 0; i < 200; i++) {
            await stream.send({ header: {}, body: Buffer.alloc(64 * 1024) });
            sent++;
          }
          stream.end();
          producerDone = true;
        })().catch(() => {});
      });
      const conn = await transport.dial(listener.address);
      const stream = conn.stream(msg({}, ""));
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(sent < 60 + (options.slackBytes ?? 0) / (64 * 1024), `the producer sent ${sent} × 64 KiB without anyone reading; it must wait for credit`);
      assert.equal(producerDone, false);
      let received = 0;
      for (let m = await stream.recv(); m; m = await stream.recv()) received++;
      assert.equal(received, 200, "everything arrives once the consumer reads");
      conn.close();
    });

    it("ends a stream with the server's error after the messages sent before it", async () => {
      const { transport, listener } = await serve(noCalls, (_request, stream) => {
        void (async () => {
          await stream.send(msg({}, "one"));
          stream.end(MicroError.conflict("svc", "went wrong").toString());
        })();
      });
      const conn = await transport.dial(listener.address);
      const stream = conn.stream(msg({}, ""));
      assert.equal(text((await stream.recv())!), "one");
      await assert.rejects(stream.recv(), (err: unknown) => err instanceof MicroError && err.code === 409 && err.detail === "went wrong");
      conn.close();
    });

    it("cancels the server's side when the client cancels", async () => {
      let serverSignal: AbortSignal | undefined;
      const { transport, listener } = await serve(noCalls, (_request, stream) => {
        serverSignal = stream.signal;
        void (async () => {
          for (;;) await stream.send(msg({}, "tick"));
        })().catch(() => {});
      });
      const conn = await transport.dial(listener.address);
      const stream = conn.stream(msg({}, ""));
      await stream.recv();
      stream.cancel();
      for (let i = 0; i < 100 && !serverSignal?.aborted; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(serverSignal?.aborted, true);
      conn.close();
    });

    it("ends a whole stream with 408 at its deadline", async () => {
      const { transport, listener } = await serve(noCalls, () => {});
      const conn = await transport.dial(listener.address);
      const stream = conn.stream(msg({}, ""), { deadline: Date.now() + 100 });
      await assert.rejects(stream.recv(), (err: unknown) => err instanceof MicroError && err.code === 408);
      conn.close();
    });

    it("runs many streams at once without one blocking another", async () => {
      const { transport, listener } = await serve(noCalls, (request, stream) => {
        void (async () => {
          const n = Number(request.header.N);
          for (let i = 0; i < 20; i++) await stream.send(msg({}, `${n}:${i}`));
          stream.end();
        })();
      });
      const conn = await transport.dial(listener.address);
      const stalled = conn.stream(msg({ N: "-1" }, "")); // never read: must not hold the others up
      const results = await Promise.all(Array.from({ length: 200 }, (_, n) => drain(conn.stream(msg({ N: String(n) }, "")))));
      for (const [n, got] of results.entries()) {
        assert.deepEqual(
          got,
          Array.from({ length: 20 }, (_, i) => `${n}:${i}`),
        );
      }
      stalled.cancel();
      conn.close();
    });
  });
}
