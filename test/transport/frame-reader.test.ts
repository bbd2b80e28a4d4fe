/**
 * The frame reader over input it does not own: a mux client reads its socket into one buffer
 * that every read overwrites (SocketReads), so each frame body the reader hands out must be a
 * copy. Frames cut at random points go through one scratch buffer, clobbered after each push;
 * what was delivered is checked only at the end, when any view of the scratch buffer would show
 * the clobbering.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Frame } from "../../src/transport/framing/frame.js";
import { FrameReader } from "../../src/transport/framing/frame-reader.js";
import { encodeHeader } from "../../src/transport/framing/header-block.js";
import { rawFrame } from "./mux-peer.js";

const LIMITS = { maxFrameSize: 1024 * 1024, maxHeaderCount: 128, maxHeaderBytes: 65536 };

/** A seeded generator, so a failure can be repeated. */
function random(seed: number): (below: number) => number {
  let state = seed >>> 0 || 1;
  return (below) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % below;
  };
}

describe("frame reader over a reused input buffer", () => {
  it("hands out every frame whole, with a body of its own, however the stream is cut", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const next = random(seed);
      const sent = Array.from({ length: 60 }, (_, i) => {
        const sizes = [0, 1, 5, 50, 700, 5_000, 70_000];
        const body = Buffer.alloc(sizes[next(sizes.length)], 0x41 + (i % 26));
        return { stream: i * 2 + 1, header: { "Micro-Id": String(i) }, body };
      });
      const bytes = Buffer.concat(sent.map((f) => rawFrame(2, f.stream, encodeHeader(f.header), f.body)));
      const got: Frame[] = [];
      const reader = new FrameReader(LIMITS, (frame) => got.push(frame), undefined, true);
      const scratch = Buffer.alloc(64 * 1024);
      for (let at = 0; at < bytes.length; ) {
        const length = Math.min(1 + next(scratch.length), bytes.length - at);
        bytes.copy(scratch, 0, at, at + length);
        assert.equal(reader.push(scratch, length), undefined);
        scratch.fill(0xee); // the next read lands here
        at += length;
      }
      assert.equal(got.length, sent.length, `seed ${seed}: every frame`);
      got.forEach((frame, i) => {
        assert.equal(frame.stream, sent[i].stream);
        assert.deepEqual(frame.header, sent[i].header);
        assert.ok(Buffer.from(frame.body).equals(sent[i].body), `seed ${seed}: body of frame ${i} (${sent[i].body.length} bytes) intact`);
      });
    }
  });

  it("reads only the given length of the buffer", () => {
    const got: Frame[] = [];
    const reader = new FrameReader(LIMITS, (frame) => got.push(frame), undefined, true);
    const frame = rawFrame(2, 1, "", Buffer.from("hello"));
    const scratch = Buffer.alloc(1024, 0xff); // bytes past the length would be a broken frame
    frame.copy(scratch);
    assert.equal(reader.push(scratch, frame.length), undefined);
    assert.equal(got.length, 1);
    assert.equal(Buffer.from(got[0].body).toString(), "hello");
    assert.equal(reader.holding, 0);
  });
});
