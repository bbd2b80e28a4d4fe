import { isUtf8 } from "node:buffer";
import { type Codec, ContentType } from "./codec.js";

const decoder = new TextDecoder();

/**
 * `application/json`, Go Micro's default. Decoding tolerates the trailing newline that Go's
 * json.Encoder writes; an empty body decodes to `{}` (Go Micro sends empty bodies for empty messages).
 * Bytes that are not valid UTF-8 are refused (a SyntaxError, answered as 400) rather than decoded
 * with replacement characters: silently changed strings would reach the handler as if sent.
 */
export const jsonCodec: Codec = {
  contentType: ContentType.json,
  encode(value: unknown): Uint8Array {
    return Buffer.from(JSON.stringify(value ?? null));
  },
  decode(bytes: Uint8Array): unknown {
    if (bytes.length === 0) return {};
    if (!isUtf8(bytes)) throw new SyntaxError("JSON body is not valid UTF-8");
    const text = Buffer.isBuffer(bytes) ? bytes.toString("utf8") : decoder.decode(bytes);
    return JSON.parse(text);
  },
};
