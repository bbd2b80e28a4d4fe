/**
 * The receiving half of a gRPC stream: messages queue for recv() in order; past 64 queued the
 * HTTP/2 stream is paused (so flow control holds the sender back) and it is resumed once the
 * reader has taken the queue down to 16; an end or a failure reaches the reader after the
 * messages that came before it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Inbox } from "../../src/grpc/inbox.js";

describe("gRPC inbox", () => {
  it("pauses the stream past 64 queued messages and resumes it at 16", async () => {
    const events: string[] = [];
    const inbox = new Inbox<number>(
      () => events.push("pause"),
      () => events.push("resume"),
    );
    for (let i = 0; i < 100; i++) inbox.push(i);
    assert.deepEqual(events, ["pause"]);
    for (let i = 0; i < 83; i++) assert.equal(await inbox.recv(), i);
    assert.deepEqual(events, ["pause"]);
    assert.equal(await inbox.recv(), 83);
    assert.deepEqual(events, ["pause", "resume"]);
  });

  it("delivers what arrived before an end or a failure, then the end or the failure", async () => {
    const ended = new Inbox<number>();
    ended.push(1);
    ended.close();
    assert.equal(await ended.recv(), 1);
    assert.equal(await ended.recv(), undefined);
    const failed = new Inbox<number>();
    const waiting = failed.recv();
    failed.push(7);
    assert.equal(await waiting, 7);
    failed.push(8);
    failed.fail(new Error("reset"));
    failed.push(9);
    assert.equal(await failed.recv(), 8);
    await assert.rejects(failed.recv(), /reset/);
  });
});
