/**
 * MicroError ↔ gRPC status, as Go Micro maps them (server/grpc/error.go, client/grpc/error.go):
 * the status code follows the error's HTTP code, the status message is the error's JSON, and the
 * error itself rides along as a `google.rpc.Status` detail of type `errors.Error`, so a plain
 * gRPC client sees a meaningful code and a Go Micro or ts-micro client gets the error back whole.
 */
import { ErrorId, MicroError } from "../errors/errors.js";
import { int32, ProtoWriter, readFields, text } from "./wire.js";

/** gRPC status codes (google.golang.org/grpc/codes). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcCodeNumber = (typeof GrpcCode)[keyof typeof GrpcCode];

/** Go Micro's server map from HTTP code to gRPC code; anything else is UNKNOWN. */
const HTTP_TO_GRPC: Record<number, GrpcCodeNumber> = {
  200: GrpcCode.OK,
  400: GrpcCode.INVALID_ARGUMENT,
  401: GrpcCode.UNAUTHENTICATED,
  403: GrpcCode.PERMISSION_DENIED,
  404: GrpcCode.NOT_FOUND,
  408: GrpcCode.DEADLINE_EXCEEDED,
  409: GrpcCode.ALREADY_EXISTS,
  412: GrpcCode.FAILED_PRECONDITION,
  500: GrpcCode.INTERNAL,
  501: GrpcCode.UNIMPLEMENTED,
  503: GrpcCode.UNAVAILABLE,
};

/** Go Micro's client map back; anything else is 500. */
const GRPC_TO_HTTP: Record<number, number> = {
  [GrpcCode.OK]: 200,
  [GrpcCode.INVALID_ARGUMENT]: 400,
  [GrpcCode.UNAUTHENTICATED]: 401,
  [GrpcCode.PERMISSION_DENIED]: 403,
  [GrpcCode.NOT_FOUND]: 404,
  [GrpcCode.DEADLINE_EXCEEDED]: 408,
  [GrpcCode.ALREADY_EXISTS]: 409,
  [GrpcCode.FAILED_PRECONDITION]: 412,
  [GrpcCode.UNIMPLEMENTED]: 501,
  [GrpcCode.INTERNAL]: 500,
  [GrpcCode.UNAVAILABLE]: 503,
};

export function grpcCodeOf(httpCode: number): GrpcCodeNumber {
  return HTTP_TO_GRPC[httpCode] ?? GrpcCode.UNKNOWN;
}

export function httpCodeOf(grpcCode: number): number {
  return GRPC_TO_HTTP[grpcCode] ?? 500;
}

/** The type URL of Go Micro's error detail. */
export const ERROR_DETAIL_TYPE = "type.googleapis.com/errors.Error";

/** A status as it goes out in trailers. */
export interface GrpcStatus {
  code: number;
  message: string;
  /** `grpc-status-details-bin`: a serialized google.rpc.Status. */
  details?: Uint8Array;
}

/** The status a MicroError is sent as. */
export function statusOf(err: MicroError): GrpcStatus {
  const json = err.toString();
  const code = grpcCodeOf(err.code);
  const detail = new ProtoWriter().bytes(1, err.id).varint(2, err.code).bytes(3, err.detail).bytes(4, err.status).finish();
  const any = new ProtoWriter().bytes(1, ERROR_DETAIL_TYPE).bytes(2, detail).finish();
  const details = new ProtoWriter().varint(1, code).bytes(2, json).bytes(3, any, true).finish();
  return { code, message: json, details };
}

/**
 * The MicroError a non-OK status stands for, as Go Micro's client decodes it: the errors.Error
 * detail if there is one, else the message if it is error JSON with a code, else a
 * `go.micro.client` error with the mapped code and the message as detail.
 */
export function errorOf(code: number, message: string, details?: Uint8Array): MicroError {
  const detail = details && errorDetail(details);
  if (detail) return detail;
  const parsed = MicroError.parse(message);
  if (parsed.code > 0) return parsed;
  return new MicroError(ErrorId.client, httpCodeOf(code), message);
}

function errorDetail(details: Uint8Array): MicroError | undefined {
  try {
    for (const field of readFields(details)) {
      if (field.field !== 3 || !(field.value instanceof Uint8Array)) continue;
      const any = readFields(field.value);
      if (text(any.find((f) => f.field === 1)?.value) !== ERROR_DETAIL_TYPE) continue;
      const e = readFields((any.find((f) => f.field === 2)?.value as Uint8Array | undefined) ?? new Uint8Array(0));
      const get = (n: number) => e.find((f) => f.field === n)?.value;
      const httpCode = int32(get(2));
      return new MicroError(text(get(1)), httpCode, text(get(3)), text(get(4)) || undefined);
    }
  } catch {
    // a detail we cannot read: fall back to the message
  }
  return undefined;
}

/** `grpc-message` is percent-encoded (gRPC over HTTP/2 spec): bytes outside printable ASCII and `%`. */
export function encodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(message)) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

export function decodeGrpcMessage(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * `grpc-timeout`: an integer of at most 8 digits and a unit (H M S m u n). Returns ms, or
 * undefined when absent or malformed (a malformed one is ignored, as grpc-go does not).
 */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!match) return undefined;
  const unitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };
  return Number(match[1]) * unitMs[match[2]];
}

/** A `grpc-timeout` value for `ms` milliseconds, within 8 digits. */
export function formatGrpcTimeout(ms: number): string {
  const n = Math.max(1, Math.ceil(ms));
  if (n < 1e8) return `${n}m`;
  if (n / 1_000 < 1e8) return `${Math.ceil(n / 1_000)}S`;
  return `${Math.ceil(n / 60_000)}M`;
}
