/**
 * `grpc.health.v1.Health`, the standard health service that Kubernetes gRPC probes, grpc-health-probe
 * and load balancers call, answered from the service's own health checks: SERVING when they say
 * `up`, NOT_SERVING when `down`. The empty service name is the whole server.
 */
import { MicroError } from "../errors/errors.js";
import type { InternalMethod, ServerCall } from "./server.js";
import { ProtoWriter, readFields, text } from "./wire.js";

export const HEALTH_SERVICE = "grpc.health.v1.Health";

/** HealthCheckResponse.ServingStatus. */
export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;
export type ServingStatusValue = (typeof ServingStatus)[keyof typeof ServingStatus];

/** The status of `service` (a full gRPC service name, or "" for the server). */
export type HealthSource = (service: string) => Promise<ServingStatusValue>;

/** How often Watch re-checks while a watcher waits. */
const WATCH_INTERVAL = 1_000;

export function healthService(source: HealthSource): Record<string, InternalMethod> {
  return {
    async Check(call) {
      const service = await requestedService(call);
      const status = await source(service);
      if (status === ServingStatus.SERVICE_UNKNOWN) throw MicroError.notFound(HEALTH_SERVICE, `unknown service ${JSON.stringify(service)}`);
      await call.send({ header: {}, body: response(status) });
    },
    async Watch(call) {
      const service = await requestedService(call);
      let last = -1;
      while (!call.signal.aborted) {
        const status = await source(service);
        if (status !== last) await call.send({ header: {}, body: response(status) });
        last = status;
        await pause(WATCH_INTERVAL, call.signal);
      }
    },
  };
}

async function requestedService(call: ServerCall): Promise<string> {
  const request = await call.recv();
  if (!request) throw MicroError.badRequest(HEALTH_SERVICE, "no HealthCheckRequest");
  try {
    return text(readFields(request.body).find((f) => f.field === 1)?.value);
  } catch (err) {
    throw MicroError.badRequest(HEALTH_SERVICE, `malformed HealthCheckRequest: ${(err as Error).message}`);
  }
}

function response(status: ServingStatusValue): Uint8Array {
  return new ProtoWriter().varint(1, status).finish();
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * grpc/health/v1/health.proto as a serialized FileDescriptorProto, for reflection: tools such as
 * grpcurl describe a method through reflection before they call it, so without this file they
 * list the health service but cannot call it.
 */
export const HEALTH_FILE = {
  name: "grpc/health/v1/health.proto",
  symbols: [
    HEALTH_SERVICE,
    `${HEALTH_SERVICE}.Check`,
    `${HEALTH_SERVICE}.Watch`,
    "grpc.health.v1.HealthCheckRequest",
    "grpc.health.v1.HealthCheckResponse",
    "grpc.health.v1.HealthCheckResponse.ServingStatus",
  ],
  descriptor: healthFileDescriptor(),
} as const;

function healthFileDescriptor(): Uint8Array {
  // Field numbers are descriptor.proto's (FileDescriptorProto, DescriptorProto, FieldDescriptorProto, …).
  const field = (name: string, type: number, typeName?: string): Uint8Array => {
    const out = new ProtoWriter().bytes(1, name).varint(3, 1).varint(4, 1 /* optional */).varint(5, type);
    if (typeName) out.bytes(6, typeName);
    return out.bytes(10, name).finish();
  };
  // descriptor.proto is proto2: an enum value's number is written even when it is 0.
  const enumValue = (name: string, number: number): Uint8Array => new ProtoWriter().bytes(1, name).varint(2, number, true).finish();
  const servingStatus = new ProtoWriter().bytes(1, "ServingStatus");
  for (const [name, number] of Object.entries(ServingStatus)) servingStatus.bytes(2, enumValue(name, number));
  const request = new ProtoWriter().bytes(1, "HealthCheckRequest").bytes(2, field("service", 9 /* string */)).finish();
  const response = new ProtoWriter()
    .bytes(1, "HealthCheckResponse")
    .bytes(2, field("status", 14 /* enum */, ".grpc.health.v1.HealthCheckResponse.ServingStatus"))
    .bytes(4, servingStatus.finish())
    .finish();
  const method = (name: string, streaming: boolean): Uint8Array =>
    new ProtoWriter()
      .bytes(1, name)
      .bytes(2, ".grpc.health.v1.HealthCheckRequest")
      .bytes(3, ".grpc.health.v1.HealthCheckResponse")
      .varint(6, streaming ? 1 : 0)
      .finish();
  const service = new ProtoWriter().bytes(1, "Health").bytes(2, method("Check", false)).bytes(2, method("Watch", true)).finish();
  return new ProtoWriter()
    .bytes(1, "grpc/health/v1/health.proto")
    .bytes(2, "grpc.health.v1")
    .bytes(4, request)
    .bytes(4, response)
    .bytes(6, service)
    .bytes(12, "proto3")
    .finish();
}
