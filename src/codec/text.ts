import { type Codec, ContentType } from "./codec.js";

/** `text/plain`: the value is a string, sent as UTF-8. */
export const textCodec: Codec = {
  contentType: ContentType.text,
  encode(value: unknown): Uint8Array {
    return Buffer.from(value === undefined || value === null ? "" : String(value));
  },
  decode(bytes: Uint8Array): unknown {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  },
};
