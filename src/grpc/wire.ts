/**
 * The few protobuf messages gRPC itself needs (google.rpc.Status, Go Micro's errors.Error, the
 * health and reflection services) are small enough to write by hand: no schema, no driver, so
 * the gRPC server runs without protobufjs. Only the wire types those messages use are handled.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Builds one message field by field. */
export class ProtoWriter {
  private readonly parts: number[] = [];

  /** A varint field (int32, enum, bool); zero is left out, as proto3 does, unless `always` (proto2 fields). */
  varint(field: number, value: number, always = false): this {
    if (value === 0 && !always) return this;
    this.tag(field, 0);
    this.raw(value < 0 ? BigInt.asUintN(64, BigInt(value)) : value);
    return this;
  }

  /** A length-delimited field: a string, bytes or an embedded message. Empty ones are left out unless `always`. */
  bytes(field: number, value: Uint8Array | string, always = false): this {
    const data = typeof value === "string" ? encoder.encode(value) : value;
    if (data.length === 0 && !always) return this;
    this.tag(field, 2);
    this.raw(data.length);
    for (const byte of data) this.parts.push(byte);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }

  private tag(field: number, wire: number): void {
    this.raw(field * 8 + wire);
  }

  private raw(value: number | bigint): void {
    let v = BigInt(value);
    while (v > 0x7fn) {
      this.parts.push(Number((v & 0x7fn) | 0x80n));
      v >>= 7n;
    }
    this.parts.push(Number(v));
  }
}

/** One decoded field: a number for varints, bytes for length-delimited fields. */
export interface ProtoField {
  field: number;
  value: number | Uint8Array;
}

/** Splits a message into its fields; throws on anything that is not well-formed protobuf. */
export function readFields(bytes: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let at = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (at >= bytes.length) throw new Error("truncated varint");
      const byte = bytes[at++];
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw new Error("varint too long");
  };
  while (at < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) throw new Error("field number 0");
    if (wire === 0) fields.push({ field, value: varint() });
    else if (wire === 2) {
      const length = varint();
      if (at + length > bytes.length) throw new Error("length past the end of the message");
      fields.push({ field, value: bytes.subarray(at, at + length) });
      at += length;
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
      if (at > bytes.length) throw new Error("truncated fixed-size field");
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return fields;
}

/** The text of a string field's bytes. */
export function text(value: number | Uint8Array | undefined): string {
  return value instanceof Uint8Array ? decoder.decode(value) : "";
}

/** A varint field as a signed 32-bit number (int32 and enums). */
export function int32(value: number | Uint8Array | undefined): number {
  return typeof value === "number" ? value | 0 : 0;
}
