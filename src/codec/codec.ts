/**
 * Codecs turn values into bytes and back, chosen by the message's Content-Type as in Go Micro.
 * A codec is a marshaler: framing (length prefixes, HTTP) belongs to the transport.
 */
export interface Codec {
  /** The Content-Type this codec answers to, e.g. `application/json`. */
  readonly contentType: string;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}
