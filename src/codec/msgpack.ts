import { createRequire } from "node:module";
import type { Packr } from "msgpackr";
import { type Codec, ContentType } from "./codec.js";

// msgpackr takes tens of milliseconds to load (it probes for its native extension), and most
// services never see a msgpack message: load it on first use, synchronously, as codecs are sync.
const require = createRequire(import.meta.url);
let packr: Packr | undefined;
function instance(): Packr {
  const { Packr } = require("msgpackr") as typeof import("msgpackr");
  // useRecords: false keeps the output plain MessagePack that any other implementation can read.
  packr ??= new Packr({ useRecords: false });
  return packr;
}

/** `application/msgpack`: compact binary, a good fit for Buffers and numbers-heavy payloads. */
export const msgpackCodec: Codec = {
  contentType: ContentType.msgpack,
  encode(value: unknown): Uint8Array {
    return instance().pack(value);
  },
  decode(bytes: Uint8Array): unknown {
    if (bytes.length === 0) return undefined;
    return instance().unpack(bytes);
  },
};
