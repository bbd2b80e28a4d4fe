import { ErrorId, MicroError } from "../errors/errors.js";
import { bytesCodec } from "./bytes.js";
import { type Codec, ContentType } from "./codec.js";
import { jsonCodec } from "./json.js";
import { jsonRpcCodec } from "./jsonrpc.js";
import { msgpackCodec } from "./msgpack.js";
import { ProtoSchema, type ProtoSchemaOptions, protobufCodec, protoJsonCodec, rawProtobufCodec } from "./proto.js";
import { protoRpcCodec } from "./protorpc.js";
import { textCodec } from "./text.js";

export { type Codec, type CodecContext, ContentType } from "./codec.js";
export {
  bytesCodec,
  jsonCodec,
  jsonRpcCodec,
  msgpackCodec,
  ProtoSchema,
  type ProtoSchemaOptions,
  protobufCodec,
  protoJsonCodec,
  protoRpcCodec,
  rawProtobufCodec,
  textCodec,
};

export const DEFAULT_CONTENT_TYPE: string = ContentType.json;

/**
 * Codecs by Content-Type. `register` adds or replaces one; lookups ignore parameters such as
 * `; charset=utf-8` and letter case.
 */
export class Codecs {
  private readonly byType = new Map<string, Codec>();

  // Go Micro's server codecs (json, json-rpc, protobuf, proto-rpc, octet-stream) plus msgpack and text.
  constructor(codecs: Iterable<Codec> = [jsonCodec, jsonRpcCodec, rawProtobufCodec, protoRpcCodec(rawProtobufCodec), msgpackCodec, bytesCodec, textCodec]) {
    for (const codec of codecs) this.register(codec);
  }

  register(codec: Codec, ...aliases: string[]): this {
    for (const type of [codec.contentType, ...aliases]) this.byType.set(type.toLowerCase(), codec);
    return this;
  }

  /** The codec for a Content-Type, or undefined. */
  find(contentType: string | undefined): Codec | undefined {
    // The exact registered spelling is by far the common case: no string work on the hot path.
    const exact = contentType === undefined ? undefined : this.byType.get(contentType);
    if (exact) return exact;
    const type = normalize(contentType);
    return this.byType.get(type) ?? (type.startsWith("text/") ? this.byType.get(ContentType.text) : undefined);
  }

  /** The codec for a Content-Type; a 415 MicroError naming the supported types when there is none. */
  get(contentType: string | undefined, errorId: string = ErrorId.codec): Codec {
    const codec = this.find(contentType);
    if (codec) return codec;
    throw new MicroError(errorId, 415, `unsupported Content-Type: ${contentType ?? "(none)"} (supported: ${[...this.byType.keys()].join(", ")})`);
  }

  get contentTypes(): string[] {
    return [...this.byType.keys()];
  }
}

function normalize(contentType: string | undefined): string {
  if (!contentType) return DEFAULT_CONTENT_TYPE;
  const semi = contentType.indexOf(";");
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** The process-wide default codec set. */
export const defaultCodecs = new Codecs();

/**
 * A message body as a person should see it (the CLI's `subscribe`, the dashboard's topics): decoded
 * by its Content-Type when that gives something JSON can carry, else its bytes as UTF-8 text.
 */
export function displayableBody(body: Uint8Array, contentType: string | undefined): unknown {
  try {
    const value = defaultCodecs.get(contentType).decode(body);
    if (!(value instanceof Uint8Array)) return value;
  } catch {
    // not decodable by its Content-Type: show the bytes as text
  }
  return Buffer.from(body).toString("utf8");
}
