/**
 * `ts-micro/grpc`: the gRPC transport for use on its own (a service gets it with
 * `createService({ server: "grpc" })`, a client uses it for `protocol=grpc` nodes by itself),
 * Go Micro's status mapping, and the `.proto` → TypeScript generator behind `micro gen proto`.
 */
export { codecContentType, DEFAULT_MAX_MESSAGE_SIZE, type EndpointShape, grpcSubtype, methodPath, parseMethodPath } from "./grpc.js";
export { HEALTH_SERVICE, ServingStatus, type ServingStatusValue } from "./health.js";
export { REFLECTION_SERVICES } from "./reflection.js";
export { errorOf, GrpcCode, type GrpcCodeNumber, type GrpcStatus, grpcCodeOf, httpCodeOf, statusOf } from "./status.js";
export { GrpcTransport, type GrpcTransportOptions } from "./transport.js";
export { type GenerateOptions, protoToTypeScript } from "./typegen.js";
