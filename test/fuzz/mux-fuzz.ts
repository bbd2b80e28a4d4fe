/**
 * A seeded fuzzer for the mux server port: each case is one connection's bytes, either generated
 * (frames assembled from interesting field values: stream ids 0, odd, even and 2^32-1; every
 * frame type and some that do not exist; flags; header blocks with NUL, CR/LF, empty names,
 * repeats and too many headers; lengths that lie) or mutated (a valid conversation with bytes
 * flipped, inserted, deleted, or cut short). The same seed gives the same cases.
 *
 * Used by mux.test.ts (a few thousand cases in `npm test`) and mux-long.ts (a long run).
 */
import net from "node:net";
import { FrameType, PREFACE } from "../../src/transport/framing/frame.js";
import type { MuxOptions } from "../../src/transport/mux/mux.js";
import { splitHostPort } from "../../src/transport/tcp.js";
import { rawFrame } from "../transport/mux-peer.js";
import { Random } from "./random.js";

/** The fuzzed server's limits: small, so that cases reach them. */
export const FUZZ_SERVER_OPTIONS: MuxOptions = {
  maxFrameSize: 64 * 1024,
  maxHeaderCount: 32,
  maxHeaderBytes: 8 * 1024,
  prefaceTimeout: 300,
  frameTimeout: 300,
};

const STREAM_IDS = [0, 1, 1, 3, 3, 5, 2, 4, 0xffffffff, 0xfffffffe, 0x80000001];
const TYPES = [
  FrameType.Request,
  FrameType.Request,
  FrameType.Request,
  FrameType.Response,
  FrameType.Cancel,
  FrameType.GoAway,
  FrameType.Refused,
  FrameType.Ping,
  FrameType.Pong,
  FrameType.Data,
  FrameType.Data,
  FrameType.End,
  FrameType.Window,
  0,
  11,
  255,
];
const FLAGS = [0, 0, 0, 1, 1, 2, 3, 128, 255];
const NAMES = ["Micro-Endpoint", "Micro-Service", "Micro-Id", "Content-Type", "Timeout", "X-Meta", "x", "Ünï", ""];
const VALUES = ["Echo.Echo", "greeter", "17", "application/json", "30000000000", "", "hi\0Micro-Endpoint\0Other.Method", "a\r\nb", "z".repeat(300), "日本"];

/** A header block: usually well formed, sometimes broken in one of the ways a block can be. */
function headerBlock(rnd: Random): Buffer {
  const count = rnd.next() < 0.05 ? 50 + rnd.int(2000) : rnd.int(6);
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(rnd.next() < 0.9 ? `${rnd.pick(NAMES)}${rnd.next() < 0.3 ? i : ""}` : "", rnd.pick(VALUES));
  if (rnd.next() < 0.05) parts.pop(); // a name without a value
  if (rnd.next() < 0.03) parts.push(""); // a trailing separator
  return Buffer.from(parts.join("\0"), "utf8");
}

function body(rnd: Random, type: number): Buffer {
  if (type === FrameType.Window && rnd.next() < 0.8) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(rnd.pick([0, 1, 65536, 0xffffffff]), 0);
    return b;
  }
  return rnd.next() < 0.5 ? Buffer.alloc(0) : Buffer.from(Array.from({ length: rnd.int(200) }, () => rnd.int(256)));
}

/** One generated frame, its length field occasionally a lie. */
function generatedFrame(rnd: Random): Buffer {
  const type = rnd.pick(TYPES);
  const frame = rawFrame(type, rnd.pick(STREAM_IDS), headerBlock(rnd), body(rnd, type), rnd.pick(FLAGS));
  const lie = rnd.next();
  if (lie < 0.03) frame.writeUInt32BE(rnd.pick([0, 1, 9, 0xffffffff, 100_000_000]), 0);
  else if (lie < 0.06) frame.writeUInt32BE((frame.readUInt32BE(0) + rnd.int(64) - 32) >>> 0, 0);
  else if (lie < 0.09) frame.writeUInt32BE(rnd.pick([0xffffffff, frame.length * 2]), 10); // the header length
  return frame;
}

/** A well-formed conversation: calls, a stream with data, a window, a cancel, a ping. */
function validConversation(rnd: Random): Buffer {
  const frames = [
    rawFrame(FrameType.Request, 1, "Micro-Endpoint\0Echo.Echo\0Content-Type\0application/json", Buffer.from('{"a":1}')),
    rawFrame(FrameType.Request, 3, "Micro-Endpoint\0Echo.Stream", Buffer.alloc(0), 1),
    rawFrame(FrameType.Data, 3, "X-Part\x001", Buffer.from("hello")),
    rawFrame(FrameType.Window, 3, "", Buffer.from([0, 1, 0, 0])),
    rawFrame(FrameType.End, 3),
    rawFrame(FrameType.Request, 5, "Micro-Endpoint\0Echo.Echo", Buffer.from("x")),
    rawFrame(FrameType.Cancel, 5),
    rawFrame(FrameType.Ping, 0),
  ];
  return Buffer.concat([PREFACE, ...frames.slice(0, 1 + rnd.int(frames.length))]);
}

/** `bytes` with a few random mutations. */
function mutated(rnd: Random, bytes: Buffer): Buffer {
  let out = Buffer.from(bytes);
  for (let n = 1 + rnd.int(4); n > 0; n--) {
    const at = rnd.int(out.length);
    switch (rnd.int(5)) {
      case 0: // flip a byte
        out[at] ^= 1 << rnd.int(8);
        break;
      case 1: // a byte set to an edge value
        out[at] = rnd.pick([0, 1, 0x7f, 0x80, 0xff, 0x0a, 0x0d]);
        break;
      case 2: // insert bytes
        out = Buffer.concat([out.subarray(0, at), Buffer.from(Array.from({ length: 1 + rnd.int(8) }, () => rnd.int(256))), out.subarray(at)]);
        break;
      case 3: // delete bytes
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + rnd.int(8))]);
        break;
      default: // cut short
        out = out.subarray(0, at);
    }
  }
  return out;
}

/** The bytes of case number `index` of the run seeded with `seed`. */
export function fuzzCase(seed: number, index: number): Buffer {
  const rnd = new Random((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  if (rnd.next() < 0.5) return mutated(rnd, validConversation(rnd));
  const frames = Array.from({ length: 1 + rnd.int(4) }, () => generatedFrame(rnd));
  const preface = rnd.next() < 0.9 ? PREFACE : mutated(rnd, PREFACE);
  return Buffer.concat([preface, ...frames]);
}

/**
 * Sends one case on a fresh connection, sometimes in small pieces, and waits until the server
 * closes it or `linger` ms pass (then closes it from this side).
 */
export function sendCase(address: string, bytes: Buffer, split: boolean, linger = 100): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(splitHostPort(address));
    const timer = setTimeout(() => socket.destroy(), linger);
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on("data", () => {});
    socket.once("connect", () => {
      if (!split) return void socket.write(bytes);
      for (let at = 0; at < bytes.length; at += 7) socket.write(bytes.subarray(at, at + 7));
    });
  });
}

/** Runs cases `from` .. `to - 1` of `seed` against `address`, `parallel` connections at a time. */
export async function runCases(address: string, seed: number, from: number, to: number, parallel = 16): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const index = next++;
      await sendCase(address, fuzzCase(seed, index), index % 5 === 0);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}
