import { type Codec, ContentType } from "./codec.js";

/** `application/octet-stream`: the body is the value, a Uint8Array (or Buffer) passed through untouched. */
export const bytesCodec: Codec = {
  contentType: ContentType.bytes,
  encode(value: unknown): Uint8Array {
    if (value instanceof Uint8Array) return value;
    if (typeof value === "string") return Buffer.from(value);
    if (value === undefined || value === null) return new Uint8Array(0);
    throw new TypeError("application/octet-stream encodes Uint8Array or string values only");
  },
  decode(bytes: Uint8Array): unknown {
    return bytes;
  },
};
