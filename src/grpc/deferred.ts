/**
 * The gRPC transport, imported on its first listen or dial (see transport/deferred.ts): what the
 * client and the service use, so that a process on mux never loads node:http2 or the gRPC modules.
 */
import { DeferredTransport } from "../transport/deferred.js";
import type { Transport } from "../transport/transport.js";
import { GRPC, maxMessageSizeOf } from "./grpc.js";
import type { GrpcTransportOptions } from "./transport.js";

export function deferredGrpcTransport(options: GrpcTransportOptions = {}): Transport {
  maxMessageSizeOf(options.maxMessageSize); // a bad option fails here, not at the first call
  return new DeferredTransport({ name: GRPC, protocol: GRPC, secure: options.tls !== undefined }, async () => {
    const { GrpcTransport } = await import("./transport.js");
    return new GrpcTransport(options);
  });
}
