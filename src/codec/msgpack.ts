import { Packr } from "msgpackr";
import type { Codec } from "./codec.js";

// useRecords: false keeps the output plain MessagePack that any other implementation can read.
const packr = new Packr({ useRecords: false });

/** `application/msgpack`: compact binary, a good fit for Buffers and numbers-heavy payloads. */
export const msgpackCodec: Codec = {
  contentType: "application/msgpack",
  encode(value: unknown): Uint8Array {
    return packr.pack(value);
  },
  decode(bytes: Uint8Array): unknown {
    if (bytes.length === 0) return undefined;
    return packr.unpack(bytes);
  },
};
