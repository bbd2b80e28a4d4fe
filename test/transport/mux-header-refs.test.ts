/**
 * Header references on the mux transport (header-refs.ts): a client's large header value (its
 * bearer token) crosses a connection once and then by reference, only to a server that offered
 * references; mixed versions keep working (an "older" end is one with headerRefSlots: 0); a
 * reference the server does not hold is a 401, not a crash; the table is bounded and a new
 * token (a refresh) gets a new reference.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import { MicroError } from "../../src/errors/errors.js";
import { MicroHeader } from "../../src/metadata/headers.js";
import { resolveTransport } from "../../src/service/resolve.js";
import { decodeHeader } from "../../src/transport/framing/header-block.js";
import { MuxTransport } from "../../src/transport/mux/mux.js";
import { joinHostPort, splitHostPort } from "../../src/transport/tcp.js";
import type { ClientConnection, Header, Listener } from "../../src/transport/transport.js";
import { rawFrame, rawPeer } from "./mux-peer.js";

const REQUEST = 1;
const PING = 6;
const STREAM_FLAG = 1;
const CALLS = 20;

/** A token-sized Authorization value, different per `n`. */
function bearer(n: number): string {
  return `Bearer ${`${n}.`.padEnd(700, String.fromCharCode(97 + (n % 26)))}`;
}

/** A server that answers each call with the Authorization value it received, and records the headers. */
async function echoServer(transport: MuxTransport, seen: Header[]): Promise<Listener> {
  return transport.listen("127.0.0.1:0", {
    handler: async (req) => {
      seen.push(req.header);
      return { header: {}, body: Buffer.from(req.header.Authorization ?? "") };
    },
    streamHandler: (req, stream) => {
      seen.push(req.header);
      void stream.send({ header: {}, body: Buffer.from(req.header.Authorization ?? "") }).then(() => stream.end());
    },
  });
}

/** A TCP relay in front of `address` that counts the bytes clients send. */
async function countingRelay(address: string): Promise<{ address: string; sent: () => number; close: () => void }> {
  let sent = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(splitHostPort(address));
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (d: Buffer) => {
      sent += d.length;
      upstream.write(d);
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: joinHostPort("127.0.0.1", port),
    sent: () => sent,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** Makes CALLS sequential calls with one token through a relay; returns the client's bytes sent and what the server saw. */
async function callsThrough(server: MuxTransport, client: MuxTransport): Promise<{ sent: number; seen: Header[] }> {
  const seen: Header[] = [];
  const listener = await echoServer(server, seen);
  const relay = await countingRelay(listener.address);
  const conn = await client.dial(relay.address);
  try {
    for (let i = 0; i < CALLS; i++) {
      const rsp = await conn.call({ header: { [MicroHeader.Endpoint]: "Echo.Echo", Authorization: bearer(1) }, body: Buffer.alloc(0) });
      assert.equal(Buffer.from(rsp.body).toString(), bearer(1), "the handler received the token");
    }
    return { sent: relay.sent(), seen };
  } finally {
    conn.close();
    relay.close();
    listener.destroy();
  }
}

function assertPlainHeaders(seen: Header[]): void {
  for (const header of seen) {
    assert.equal(header.Authorization, bearer(1));
    assert.equal(header["Mux-Ref"], undefined, "the reference headers never reach the handler");
    assert.equal(header["Mux-Ref-Set"], undefined);
  }
}

describe("mux header references: negotiation", () => {
  const current = new MuxTransport();
  const older = new MuxTransport({ headerRefSlots: 0 });

  it("sends a token once and then by reference between two current ends", async () => {
    const { sent, seen } = await callsThrough(current, current);
    assertPlainHeaders(seen);
    assert.equal(seen.length, CALLS);
    // In full at most on the first two calls (before the offer arrives, and the one that sets it).
    assert.ok(sent < 3 * 700 + CALLS * 150, `the token crossed the connection at most twice (${sent} bytes for ${CALLS} calls)`);
  });

  it("sends the token in full to an older server, which never offers references", async () => {
    const { sent, seen } = await callsThrough(older, current);
    assertPlainHeaders(seen);
    assert.ok(sent > CALLS * 700, `every call carried the token (${sent} bytes)`);
  });

  it("serves an older client, which never asks, with full tokens", async () => {
    const { sent, seen } = await callsThrough(current, older);
    assertPlainHeaders(seen);
    assert.ok(sent > CALLS * 700, `every call carried the token (${sent} bytes)`);
  });

  it("is turned off by MICRO_MUX_HEADER_REFS=false, and on by default", () => {
    const slots = (env: Record<string, string>) => (resolveTransport("mux", undefined, env) as MuxTransport).limits.headerRefSlots;
    assert.equal(slots({ MICRO_MUX_HEADER_REFS: "false" }), 0);
    assert.ok(slots({}) > 0);
    assert.ok(slots({ MICRO_MUX_HEADER_REFS: "true" }) > 0);
    assert.throws(() => slots({ MICRO_MUX_HEADER_REFS: "maybe" }), /MICRO_MUX_HEADER_REFS=maybe: expected true or false/);
  });

  it("opens streams with the token by reference", async () => {
    const seen: Header[] = [];
    const listener = await echoServer(current, seen);
    const conn = await current.dial(listener.address);
    try {
      for (let i = 0; i < 4; i++) {
        const stream = conn.stream({ header: { [MicroHeader.Endpoint]: "Echo.Stream", Authorization: bearer(2) }, body: Buffer.alloc(0) });
        const msg = await stream.recv();
        assert.equal(Buffer.from(msg?.body ?? []).toString(), bearer(2));
      }
      assert.ok(seen.every((h) => h.Authorization === bearer(2) && h["Mux-Ref"] === undefined));
    } finally {
      conn.close();
      listener.destroy();
    }
  });
});

describe("mux header references: table", () => {
  let listener: Listener | undefined;
  let conn: ClientConnection | undefined;
  after(() => {
    conn?.close();
    listener?.destroy();
  });

  it("keeps a bounded table: more tokens than slots, cycled, each call gets its own token", async () => {
    const server = new MuxTransport({ headerRefSlots: 2 });
    listener = await echoServer(server, []);
    conn = await new MuxTransport().dial(listener.address);
    // Three tokens over two slots, each reused: every new one evicts a slot the others may need.
    for (const n of [1, 1, 2, 2, 3, 3, 1, 2, 3, 1, 1, 3, 2]) {
      const rsp = await conn.call({ header: { Authorization: bearer(n) }, body: Buffer.alloc(0) });
      assert.equal(Buffer.from(rsp.body).toString(), bearer(n), `call with token ${n}`);
    }
  });

  it("gives a refreshed token a new reference, with calls in flight across the change", async () => {
    const server = new MuxTransport();
    const seen: Header[] = [];
    const local = await echoServer(server, seen);
    const c = await new MuxTransport().dial(local.address);
    try {
      const tokens = [10, 10, 10, 11, 11, 11, 12, 12];
      const replies = await Promise.all(tokens.map((n) => c.call({ header: { Authorization: bearer(n) }, body: Buffer.alloc(0) })));
      for (const [i, rsp] of replies.entries()) assert.equal(Buffer.from(rsp.body).toString(), bearer(tokens[i]));
      for (const n of [12, 13, 13]) {
        const rsp = await c.call({ header: { Authorization: bearer(n) }, body: Buffer.alloc(0) });
        assert.equal(Buffer.from(rsp.body).toString(), bearer(n));
      }
    } finally {
      c.close();
      local.destroy();
    }
  });
});

/** A raw connection that has asked for references, as a current client's first ping does. */
async function helloPeer(address: string): Promise<Awaited<ReturnType<typeof rawPeer>>> {
  const peer = await rawPeer(address);
  peer.socket.write(rawFrame(PING, 0, "Mux-Features\0header-refs"));
  return peer;
}

describe("mux header references: bad references", () => {
  const server = new MuxTransport({ headerRefSlots: 4 });
  let listener: Listener;

  /** Sends a request with `header` on a raw connection and returns the header of the server's answer on that stream. */
  async function answer(peer: Awaited<ReturnType<typeof rawPeer>>, stream: number, header: string, flags = 0): Promise<Header> {
    peer.socket.write(rawFrame(REQUEST, stream, header, Buffer.alloc(0), flags));
    for (let i = 0; i < 500; i++) {
      const found = frameOn(peer.received(), stream);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail(`no answer on stream ${stream} to ${JSON.stringify(header.slice(0, 60))}`);
  }

  /** The header of the last complete frame on `stream` in `bytes`. */
  function frameOn(bytes: Buffer, stream: number): Header | undefined {
    let found: Header | undefined;
    for (let at = 0; at + 14 <= bytes.length; ) {
      const end = at + 4 + bytes.readUInt32BE(at);
      if (end > bytes.length) break;
      if (bytes.readUInt32BE(at + 6) === stream) {
        const decoded = decodeHeader(bytes, at + 14, at + 14 + bytes.readUInt32BE(at + 10));
        assert.equal(typeof decoded, "object");
        found = decoded as Header;
      }
      at = end;
    }
    return found;
  }

  function errorOf(header: Header): MicroError {
    const text = header[MicroHeader.Error];
    assert.ok(text, "the answer is an error");
    return MicroError.parse(text);
  }

  it("answers a reference to a slot never set with 401, and keeps serving the connection", async () => {
    listener ??= await echoServer(server, []);
    const peer = await helloPeer(listener.address);
    try {
      const err = errorOf(await answer(peer, 1, "Mux-Ref\0Authorization=3"));
      assert.equal(err.code, 401);
      assert.match(err.detail, /unknown header reference Authorization=3/);
      const ok = await answer(peer, 3, `Authorization\0${bearer(1)}\0Mux-Ref-Set\0Authorization=3`);
      assert.equal(ok[MicroHeader.Error], undefined, "a set then works");
      assert.equal(errorOf(await answer(peer, 5, "Mux-Ref\0Authorization=2")).code, 401, "only the slot set is known");
      const ref = await answer(peer, 7, "Mux-Ref\0Authorization=3");
      assert.equal(ref[MicroHeader.Error], undefined, "the slot set on this connection resolves");
      assert.equal(errorOf(await answer(peer, 9, "Mux-Ref\0Authorization=4", STREAM_FLAG)).code, 401, "on a stream too");
    } finally {
      peer.destroy();
    }
  });

  it("applies a set carried by a request it refuses (calls per connection limit), as the client counts on it", async () => {
    const limited = new MuxTransport({ maxCallsPerConnection: 1 });
    const slow = await limited.listen("127.0.0.1:0", {
      handler: async (req) => {
        await new Promise((resolve) => setTimeout(resolve, req.header[MicroHeader.Endpoint] === "Slow" ? 300 : 0));
        return { header: {}, body: Buffer.from(req.header.Authorization ?? "") };
      },
    });
    const peer = await helloPeer(slow.address);
    try {
      peer.socket.write(rawFrame(REQUEST, 1, "Micro-Endpoint\0Slow"));
      const refused = await answer(peer, 3, `Authorization\0${bearer(4)}\0Mux-Ref-Set\0Authorization=1`);
      assert.match(refused[MicroHeader.Error] ?? "", /calls in flight/);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const resolved = await answer(peer, 5, "Mux-Ref\0Authorization=1");
      assert.equal(resolved[MicroHeader.Error], undefined, "the slot holds the refused request's value");
    } finally {
      peer.destroy();
      slow.destroy();
    }
  });

  it("takes reference headers as ordinary ones on a connection that did not ask for references", async () => {
    listener ??= await echoServer(server, []);
    const peer = await rawPeer(listener.address);
    try {
      assert.equal((await answer(peer, 1, "Mux-Ref\0Authorization=1"))[MicroHeader.Error], undefined, "no reference resolved, no 401");
    } finally {
      peer.destroy();
    }
  });

  it("refuses a caller's own reference headers (400, not sent), so passed-on metadata cannot name a slot", async () => {
    listener ??= await echoServer(server, []);
    const conn = await new MuxTransport().dial(listener.address);
    try {
      for (const name of ["Mux-Ref", "Mux-Ref-Set"]) {
        await assert.rejects(conn.call({ header: { [name]: "Authorization=1" }, body: Buffer.alloc(0) }), (err: MicroError) => {
          assert.equal(err.code, 400);
          assert.match(err.detail, new RegExp(`header ${name} is reserved by the mux transport`));
          return true;
        });
      }
      const older = await new MuxTransport({ headerRefSlots: 0 }).dial(listener.address);
      const rsp = await older.call({ header: { "Mux-Ref": "Authorization=1" }, body: Buffer.alloc(0) });
      assert.equal(rsp.header[MicroHeader.Error], undefined, "a client that did not ask sends it as any header");
      older.close();
    } finally {
      conn.close();
    }
  });

  it("does not resolve a reference set on another connection", async () => {
    listener ??= await echoServer(server, []);
    const first = await helloPeer(listener.address);
    const second = await helloPeer(listener.address);
    try {
      assert.equal((await answer(first, 1, `Authorization\0${bearer(1)}\0Mux-Ref-Set\0Authorization=1`))[MicroHeader.Error], undefined);
      assert.equal(errorOf(await answer(second, 1, "Mux-Ref\0Authorization=1")).code, 401);
    } finally {
      first.destroy();
      second.destroy();
    }
  });

  it("answers malformed reference headers with 400", async () => {
    listener ??= await echoServer(server, []);
    const peer = await helloPeer(listener.address);
    try {
      for (const bad of [
        "Mux-Ref\0Authorization=5", // beyond the 4 slots offered
        "Mux-Ref\0Authorization=0",
        "Mux-Ref\0Authorization",
        "Mux-Ref\0=1",
        "Mux-Ref-Set\0Authorization=1", // names a header the request does not carry
        `Authorization\0${bearer(1)}\0Mux-Ref\0Authorization=1`, // both sent and referenced
        `Authorization\0${"x".repeat(5000)}\0Mux-Ref-Set\0Authorization=1`, // over the value bound
      ].entries()) {
        const err = errorOf(await answer(peer, 1 + 2 * bad[0], bad[1]));
        assert.equal(err.code, 400, `${JSON.stringify(bad[1].slice(0, 60))}: ${err.detail}`);
      }
      // A failed set leaves its slot empty, not holding the value it had before.
      assert.equal((await answer(peer, 21, `Authorization\0${bearer(1)}\0Mux-Ref-Set\0Authorization=2`))[MicroHeader.Error], undefined);
      assert.equal(errorOf(await answer(peer, 23, `Authorization\0${"x".repeat(5000)}\0Mux-Ref-Set\0Authorization=2`)).code, 400);
      assert.equal(errorOf(await answer(peer, 25, "Mux-Ref\0Authorization=2")).code, 401);
      const ok = await answer(peer, 99, "Micro-Endpoint\0Echo.Echo");
      assert.equal(ok[MicroHeader.Error], undefined, "the connection still serves");
    } finally {
      peer.destroy();
      listener.destroy();
    }
  });
});
