/**
 * Native gRPC for ts-micro, with Go Micro's gRPC mapping (server/grpc, client/grpc):
 *
 * - A call to `/<package>.<Handler>/<Method>` runs endpoint `<Handler>.<Method>`: the server routes
 *   on the last dotted segment of the gRPC service name, so any proto package works, as in Go Micro.
 * - `application/grpc` and `+proto` carry protobuf (types from a `.proto`), `+json` JSON (no
 *   `.proto` needed), `+bytes` raw bytes; Go Micro's `x-content-type` metadata overrides.
 * - Metadata travels as lowercase gRPC headers; `grpc-timeout` (or Go Micro's `timeout` in ns) is
 *   the handler's deadline.
 * - A MicroError is a status whose code follows its HTTP code, whose message is the error JSON and
 *   whose `grpc-status-details-bin` holds an `errors.Error` detail (status.ts).
 * - Messages over 4 MiB (configurable) are refused with RESOURCE_EXHAUSTED.
 * - Nodes register `server=grpc, transport=grpc, protocol=grpc`; a ts-micro client calls such nodes
 *   over gRPC.
 *
 * The framing is our own, on node:http2 (bench/README.md has the measurements behind that
 * choice), so nothing needs installing; protobufjs is needed only for `.proto` message types.
 * GrpcTransport (transport.ts) is a Transport, so the RPC server and client use it as any other.
 */
import { ContentType } from "../codec/codec.js";

/** Go Micro's DefaultMaxMsgSize: 4 MiB each way. */
export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024;

/** The name nodes register under `server`, `transport` and `protocol`. */
export const GRPC = "grpc";

/** The largest message a gRPC server or client takes: `size`, or 4 MiB; a RangeError for a bad size. */
export function maxMessageSizeOf(size: number | undefined): number {
  const max = size ?? DEFAULT_MAX_MESSAGE_SIZE;
  if (!(max > 0)) throw new RangeError("grpc: maxMessageSize must be a positive number of bytes");
  return max;
}

/**
 * Metadata a ts-micro client sends when it streams its requests: a ts-micro server then hands
 * the handler an AsyncIterable even when neither a .proto nor `stream: true` says so.
 */
export const STREAM_INPUT = "micro-stream-input";

/** How an endpoint streams, for a protocol that does not say (every gRPC call looks like a bidi stream). */
export interface EndpointShape {
  /** The caller sends a stream of requests (client or bidirectional stream). */
  input: boolean;
  /** The handler answers with a stream (server or bidirectional stream). */
  output: boolean;
}

/**
 * The gRPC content subtype → the codec's Content-Type, as Go Micro's table: proto for
 * `application/grpc`, `+proto`, `application/proto(buf)`, `application/octet-stream`; json for
 * `+json` and `application/json`; bytes for `+bytes`. Undefined for anything else.
 */
export function codecContentType(grpcContentType: string): string | undefined {
  const type = grpcContentType.split(";")[0].trim().toLowerCase();
  switch (type) {
    case "application/grpc":
    case "application/grpc+proto":
    case "application/proto":
    case "application/protobuf":
    case "application/octet-stream":
      return ContentType.protobuf;
    case "application/grpc+json":
    case "application/json":
      return ContentType.json;
    case "application/grpc+bytes":
      return ContentType.bytes;
    default:
      return undefined;
  }
}

/** The content subtype a client sends for a codec's Content-Type (`json` for application/json…). */
export function grpcSubtype(contentType: string): "proto" | "json" | "bytes" {
  const type = contentType.split(";")[0].trim().toLowerCase();
  if (type === ContentType.json) return "json";
  if (type === ContentType.bytes) return "bytes";
  return "proto";
}

/**
 * `/<package>.<Handler>/<Method>` → `<Handler>.<Method>` and the full gRPC service name; also
 * `/Handler/Method`. Undefined when the path has another shape.
 */
export function parseMethodPath(path: string): { service: string; endpoint: string } | undefined {
  const match = /^\/([^/]+)\/([^/]+)$/.exec(path);
  if (!match) return undefined;
  const service = match[1];
  const handler = service.slice(service.lastIndexOf(".") + 1);
  if (!handler) return undefined;
  return { service, endpoint: `${handler}.${match[2]}` };
}

/**
 * Go Micro's client path for `endpoint` of `service`: endpoint `Greeter.Hello` of service
 * `greeter` is `/greeter.Greeter/Hello`; no service gives `/Greeter/Hello`; an endpoint that
 * already starts with `/` is used as it is.
 */
export function methodPath(service: string, endpoint: string): string {
  if (endpoint.startsWith("/")) return endpoint;
  const dot = endpoint.lastIndexOf(".");
  const handler = dot < 0 ? endpoint : endpoint.slice(0, dot);
  const method = dot < 0 ? "" : endpoint.slice(dot + 1);
  return service ? `/${service}.${handler}/${method}` : `/${handler}/${method}`;
}
