/**
 * Codecs turn values into bytes and back, chosen by the message's Content-Type as in Go Micro.
 * A codec is a marshaler: framing (length prefixes, HTTP) belongs to the transport.
 */
export interface Codec {
  /** The Content-Type this codec answers to, e.g. `application/json`. */
  readonly contentType: string;
  encode(value: unknown, context?: CodecContext): Uint8Array;
  decode(bytes: Uint8Array, context?: CodecContext): unknown;
}

/**
 * What a message is, for codecs that need to know: protobuf finds the message type by endpoint,
 * json-rpc and proto-rpc wrap RPC messages in Go Micro's legacy envelopes. Without a context a
 * message is an event (pub/sub) and carries no envelope.
 */
export interface CodecContext {
  /** `<Handler>.<Method>`. */
  readonly endpoint: string;
  /** A request (client → server) or a response. */
  readonly kind: "request" | "response";
  /** The call's sequence number (`Micro-Id`), carried by the envelope codecs. */
  readonly id?: string;
}

/** The Content-Types of the built-in codecs: the one place their spelling is written. */
export const ContentType = {
  json: "application/json",
  jsonRpc: "application/json-rpc",
  protobuf: "application/protobuf",
  protoRpc: "application/proto-rpc",
  msgpack: "application/msgpack",
  bytes: "application/octet-stream",
  text: "text/plain",
} as const;
