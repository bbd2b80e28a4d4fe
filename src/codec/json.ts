import { type Codec, ContentType } from "./codec.js";

const decoder = new TextDecoder();

/**
 * `application/json`, Go Micro's default. Decoding tolerates the trailing newline that Go's
 * json.Encoder writes; an empty body decodes to `{}` (Go Micro sends empty bodies for empty messages).
 */
export const jsonCodec: Codec = {
  contentType: ContentType.json,
  encode(value: unknown): Uint8Array {
    return Buffer.from(JSON.stringify(value ?? null));
  },
  decode(bytes: Uint8Array): unknown {
    if (bytes.length === 0) return {};
    const text = Buffer.isBuffer(bytes) ? bytes.toString("utf8") : decoder.decode(bytes);
    return JSON.parse(text);
  },
};
