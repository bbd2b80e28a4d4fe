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
