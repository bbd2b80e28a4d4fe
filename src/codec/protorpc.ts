/**
 * `application/proto-rpc`: Go Micro's legacy protobuf RPC envelope. A message is two big-endian
 * length-prefixed parts: a header (`Request{service_method = 1; fixed64 seq = 2}` or
 * `Response{service_method = 1; fixed64 seq = 2; string error = 3}`) and the body, encoded by
 * `inner` (normally protobufCodec(schema)). Events (no context) are the bare body.
 */
import { MicroError } from "../errors/errors.js";
import { type Codec, type CodecContext, ContentType } from "./codec.js";

export function protoRpcCodec(inner: Codec): Codec {
  return {
    contentType: ContentType.protoRpc,
    encode(value: unknown, context?: CodecContext): Uint8Array {
      const body = inner.encode(value, context);
      if (!context) return body;
      return Buffer.concat([netstring(encodeHeader(context.endpoint, context.id)), netstring(body)]);
    },
    decode(bytes: Uint8Array, context?: CodecContext): unknown {
      if (!context) return inner.decode(bytes, context);
      const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const [header, rest] = readNetstring(buffer, "header");
      const [body] = readNetstring(rest, "body");
      const error = decodeHeader(header).error;
      if (error) throw MicroError.parse(error);
      return inner.decode(body, context);
    },
  };
}

function netstring(data: Uint8Array): Buffer {
  const size = Buffer.allocUnsafe(4);
  size.writeUInt32BE(data.length, 0);
  return Buffer.concat([size, data]);
}

function readNetstring(buffer: Buffer, part: string): [Buffer, Buffer] {
  if (buffer.length < 4) throw new RangeError(`proto-rpc: truncated ${part} length`);
  const size = buffer.readUInt32BE(0);
  if (buffer.length < 4 + size) throw new RangeError(`proto-rpc: ${part} of ${size} bytes is truncated to ${buffer.length - 4}`);
  return [buffer.subarray(4, 4 + size), buffer.subarray(4 + size)];
}

/** The envelope header: field 1 (string, wire type 2) and field 2 (fixed64, wire type 1). */
function encodeHeader(method: string, id: string | undefined): Buffer {
  const name = Buffer.from(method);
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64LE(BigInt(/^\d+$/.test(id ?? "") ? id! : "0"), 0);
  return Buffer.concat([Buffer.from([0x0a]), varint(name.length), name, Buffer.from([0x11]), seq]);
}

/** Reads fields 1–3 of a Request or Response header; unknown fields are skipped. */
function decodeHeader(bytes: Buffer): { method: string; seq: bigint; error: string } {
  const out = { method: "", seq: 0n, error: "" };
  let at = 0;
  while (at < bytes.length) {
    const [key, afterKey] = readVarint(bytes, at);
    at = afterKey;
    const field = Number(key >> 3n);
    switch (Number(key & 7n)) {
      case 0:
        at = readVarint(bytes, at)[1];
        break;
      case 1:
        if (at + 8 > bytes.length) throw new RangeError("proto-rpc: truncated fixed64");
        if (field === 2) out.seq = bytes.readBigUInt64LE(at);
        at += 8;
        break;
      case 2: {
        const [length, start] = readVarint(bytes, at);
        const end = start + Number(length);
        if (end > bytes.length) throw new RangeError("proto-rpc: truncated string");
        const text = bytes.toString("utf8", start, end);
        if (field === 1) out.method = text;
        if (field === 3) out.error = text;
        at = end;
        break;
      }
      case 5:
        at += 4;
        break;
      default:
        throw new RangeError(`proto-rpc: unsupported wire type in header`);
    }
  }
  return out;
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

function readVarint(bytes: Buffer, at: number): [bigint, number] {
  let result = 0n;
  for (let shift = 0n; at < bytes.length && shift < 70n; shift += 7n) {
    const b = bytes[at++];
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, at];
  }
  throw new RangeError("proto-rpc: malformed varint");
}

export { decodeHeader as decodeProtoRpcHeader };
