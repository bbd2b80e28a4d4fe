/**
 * decodeHeader against the rules of a header block: what it refuses (CR or LF, a repeated or
 * empty name, a name without a value, too many headers), what it decodes (non-ASCII, long
 * fields, call ids), and that a plain split-and-check decoder agrees with it on random blocks.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_MAX_HEADER_COUNT, decodeHeader } from "../../src/transport/framing/header-block.js";
import type { Header } from "../../src/transport/transport.js";

/** The block of `text` inside other bytes (NULs and CR/LF included), decoded in place. */
function decode(text: string | Buffer, maxCount?: number): Header | string {
  const block = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  const buf = Buffer.concat([Buffer.from("\0\r\nx"), block, Buffer.from("\0y\r\n\0")]);
  return decodeHeader(buf, 4, 4 + block.length, maxCount);
}

/** The rules of a header block, checked the plain way: split at NULs, then field by field. */
function reference(block: Buffer, maxCount = DEFAULT_MAX_HEADER_COUNT): Header | string {
  const header: Header = {};
  if (block.length === 0) return header;
  let key: string | undefined;
  let count = 0;
  let from = 0;
  for (let i = 0; i <= block.length; i++) {
    if (i < block.length && block[i] !== 0) continue;
    const field = block.subarray(from, i);
    from = i + 1;
    if (field.includes(0x0a) || field.includes(0x0d)) return "a header name or value contains CR or LF";
    const text = field.toString("utf8");
    if (key === undefined) {
      if (text.length === 0) return "a header with an empty name";
      if (++count > maxCount) return `more than ${maxCount} headers`;
      key = text;
    } else {
      if (Object.hasOwn(header, key)) return `header ${JSON.stringify(key)} appears twice`;
      header[key] = text;
      key = undefined;
    }
  }
  if (key !== undefined) return `header ${JSON.stringify(key)} has no value`;
  return header;
}

describe("header block decoding", () => {
  it("refuses CR or LF in a name or value, short or long", () => {
    for (const bad of ["\r", "\n"]) {
      for (const block of [
        `X-A${bad}\0v`,
        `X-A\0v${bad}`,
        `X-A\0${"t".repeat(63)}${bad}`,
        `X-A\0${"t".repeat(64)}${bad}`,
        `X-A\0${"t".repeat(300)}${bad}x\0B\0c`,
      ]) {
        assert.equal(decode(block), "a header name or value contains CR or LF", JSON.stringify(block));
      }
    }
  });

  it("refuses a repeated name, an empty name, a name without a value and more than maxCount headers", () => {
    assert.equal(decode("Micro-Endpoint\0A.B\0X\0y\0Micro-Endpoint\0Other.Method"), 'header "Micro-Endpoint" appears twice');
    assert.equal(decode("\0value"), "a header with an empty name");
    assert.equal(decode("A\0b\0\0c"), "a header with an empty name");
    assert.equal(decode("lonely"), 'header "lonely" has no value');
    assert.equal(decode("A\0b\0lonely"), 'header "lonely" has no value');
    assert.equal(decode("A\0b\0C\0d\0E\0f", 2), "more than 2 headers");
    assert.deepEqual(decode("A\0b\0C\0d", 2), { A: "b", C: "d" });
    // The first problem in the block is the one reported: here the LF before the repeat.
    assert.equal(decode("A\0b\0A\0c\nd"), "a header name or value contains CR or LF");
  });

  it("decodes empty values, control characters other than CR and LF, and non-ASCII text", () => {
    assert.deepEqual(decode(""), {});
    assert.deepEqual(decode("A\0"), { A: "" });
    assert.deepEqual(decode("A\0\0B\0c"), { A: "", B: "c" });
    assert.deepEqual(decode("X-Tab\0a\tb\x7f\x01"), { "X-Tab": "a\tb\x7f\x01" });
    assert.deepEqual(decode("X-Name\0Zoë 🚀 日本\0Ünïcode-Key\0naïve"), { "X-Name": "Zoë 🚀 日本", "Ünïcode-Key": "naïve" });
    // Bytes that are not UTF-8 decode as they always have: to U+FFFD.
    assert.deepEqual(decode(Buffer.from([0x41, 0, 0xe9, 0x41])), { A: "\ufffdA" });
  });

  it("decodes call ids and other text starting with a digit exactly", () => {
    for (const value of ["0", "7", "007", "0x10", "12a", "1é", "123456789", "999999999", "1000000000", "30000000000", "1e3", "1.5", "9".repeat(40)]) {
      assert.deepEqual(decode(`Micro-Id\0${value}`), { "Micro-Id": value }, value);
    }
  });

  it("decodes fields of up to, at and past the length scanned natively", () => {
    for (const length of [63, 64, 65, 66, 200]) {
      const name = `X-${"n".repeat(length - 2)}`;
      const value = "v".repeat(length);
      assert.deepEqual(decode(`${name}\0${value}\0Micro-Id\x0042`), { [name]: value, "Micro-Id": "42" }, String(length));
      assert.deepEqual(decode(`A\0${value}`), { A: value }, String(length));
      assert.deepEqual(decode(`A\0${"é".repeat(length)}`), { A: "é".repeat(length) }, String(length));
    }
  });

  it("gives back equal text for repeated names and values, through evictions from the cache", () => {
    const names = Array.from({ length: 600 }, (_, i) => `X-${i.toString(36).padStart(3, "a")}`);
    for (let round = 0; round < 3; round++) {
      for (const name of names) {
        const block = `Micro-Service\0greeter\0${name}\0${name.toLowerCase()}-value\0Content-Type\0application/json`;
        assert.deepEqual(decode(block), { "Micro-Service": "greeter", [name]: `${name.toLowerCase()}-value`, "Content-Type": "application/json" });
      }
    }
  });

  it("agrees with a plain split-and-check decoder on random blocks", () => {
    let seed = 12345;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const pieces = ["\0", "\0", "\0", "\r", "\n", "\t", "é", "🚀", "0", "07", "42", "A", "b", "Micro-Id", "Timeout", "x".repeat(70), "__proto__", "toString"];
    for (let i = 0; i < 20_000; i++) {
      const parts = Array.from({ length: random(12) }, () => pieces[random(pieces.length)]);
      const block = Buffer.from(parts.join(""), "utf8");
      if (random(20) === 0 && block.length > 0) block[random(block.length)] = 0x80 + random(128); // invalid UTF-8
      const maxCount = 1 + random(4);
      assert.deepEqual(decode(block, maxCount), reference(block, maxCount), JSON.stringify(block.toString("latin1")));
    }
  });
});
