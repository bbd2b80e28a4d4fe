/**
 * GrpcTransport: gRPC as a ts-micro Transport. `listen` serves the RPC server's handlers over
 * HTTP/2 with Go Micro's gRPC mapping (plus the standard health and reflection services), `dial`
 * calls any gRPC server. See grpc.ts for the mapping.
 */
import type { ProtoSchema } from "../codec/proto.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import type { TlsOptions } from "../transport/tls.js";
import type { ClientConnection, Listener, ListenOptions, Transport } from "../transport/transport.js";
import { dialGrpc } from "./client.js";
import { type EndpointShape, GRPC, maxMessageSizeOf } from "./grpc.js";
import { HEALTH_FILE, HEALTH_SERVICE, healthService, ServingStatus, type ServingStatusValue } from "./health.js";
import { REFLECTION_SERVICES, type ReflectionSource, reflectionService } from "./reflection.js";
import { type InternalMethod, listenGrpc } from "./server.js";

export interface GrpcTransportOptions {
  /** Largest message received or sent, in bytes (default 4 MiB, as Go Micro's `MaxMsgSize`). */
  maxMessageSize?: number;
  /** Longest wait for a connection, in ms (default 5 s). */
  dialTimeout?: number;
  /** Message types and streaming kinds from a `.proto`; also what reflection describes. */
  schema?: ProtoSchema;
  /**
   * How the server's endpoints stream (the RPC server's `shape`); undefined for an endpoint it
   * does not serve. The schema's streaming kinds are added to it.
   */
  shape?: (endpoint: string) => EndpointShape | undefined;
  /** The handler names served, for reflection and the health service. */
  handlers?: () => string[];
  /** The server's health: `up` or `down` (the service's health checks). Default: always up. */
  health?: () => Promise<"up" | "down">;
  /** Serve gRPC server reflection (default true). */
  reflection?: boolean;
  /**
   * TLS, with the same options as the mux and HTTP transports (MICRO_TRANSPORT_SECURE and
   * MICRO_TLS_*): the server serves h2 over TLS (mTLS with `clientAuth: "require"`), the client
   * dials TLS, trusting `ca` and presenting `cert`. Undefined: plaintext (h2c).
   */
  tls?: TlsOptions;
  logger?: Logger;
}

export class GrpcTransport implements Transport {
  readonly name = GRPC;
  /** Nodes served by this transport register `server=grpc` and `protocol=grpc`. */
  readonly protocol = GRPC;
  readonly secure: boolean;
  private readonly maxMessageSize: number;
  private readonly log: Logger;

  constructor(private readonly options: GrpcTransportOptions = {}) {
    this.maxMessageSize = maxMessageSizeOf(options.maxMessageSize);
    this.log = options.logger ?? defaultLogger();
    this.secure = options.tls !== undefined;
  }

  listen(address: string, options: ListenOptions): Promise<Listener> {
    const internal = new Map<string, Record<string, InternalMethod>>([[HEALTH_SERVICE, healthService((service) => this.serving(service))]]);
    if (this.options.reflection !== false) {
      const reflection = reflectionService(this.reflectionSource());
      for (const name of REFLECTION_SERVICES) internal.set(name, reflection);
    }
    return listenGrpc(address, {
      ...options,
      maxMessageSize: this.maxMessageSize,
      logger: this.log,
      shape: (e) => this.shape(e),
      internal,
      tls: this.options.tls,
      jsonResponse: this.options.schema && protoNamedJson(this.options.schema),
    });
  }

  dial(address: string, options: { timeout?: number } = {}): Promise<ClientConnection> {
    return dialGrpc(address.replace(/^grpc:\/\//, ""), this.maxMessageSize, options.timeout ?? this.options.dialTimeout ?? 5_000, this.options.tls);
  }

  /** The server's shape of `endpoint`, with what the `.proto` says about its streams. */
  private shape(endpoint: string): EndpointShape | undefined {
    const served = this.options.shape?.(endpoint);
    if (!served) return undefined;
    const dot = endpoint.indexOf(".");
    const handler = endpoint.slice(0, dot);
    const method = endpoint.slice(dot + 1);
    const declared = this.options.schema?.services.find((s) => s.name === handler)?.methods.find((m) => m.name === method);
    return { input: served.input || declared?.requestStream === true, output: served.output || declared?.responseStream === true };
  }

  /** Full gRPC names of the handlers: the `.proto`'s when it has the service, else the handler name. */
  private serviceNames(): string[] {
    const schema = this.options.schema;
    return (this.options.handlers?.() ?? []).map((handler) => schema?.services.find((s) => s.name === handler)?.fullName ?? handler);
  }

  private async serving(service: string): Promise<ServingStatusValue> {
    const names = this.serviceNames();
    const handlers = this.options.handlers?.() ?? [];
    if (service !== "" && service !== HEALTH_SERVICE && !names.includes(service) && !handlers.includes(service)) return ServingStatus.SERVICE_UNKNOWN;
    const status = (await this.options.health?.()) ?? "up";
    return status === "up" ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }

  private reflectionSource(): ReflectionSource {
    return {
      services: () => [...this.serviceNames(), HEALTH_SERVICE, ...REFLECTION_SERVICES].sort(),
      files: (symbol) => {
        if (symbol === HEALTH_FILE.name || (HEALTH_FILE.symbols as readonly string[]).includes(symbol)) return [HEALTH_FILE.descriptor];
        const files = this.options.schema?.files() ?? [];
        const file = files.find((f) => f.name === symbol || f.symbols.includes(symbol));
        // protobufjs writes no imports between the files it rebuilds: send them all, the one asked for first.
        return file ? [file.descriptor, ...files.filter((f) => f !== file).map((f) => f.descriptor)] : undefined;
      },
    };
  }
}

/**
 * JSON answers as Go Micro's gRPC server writes them (protojson with UseProtoNames): the
 * .proto's field names (`user_id`) and no unpopulated fields, for endpoints the schema knows.
 * The handler still returns lowerCamel objects (as everywhere else), and requests may use either
 * name style. Bodies of other endpoints, and anything that is not a JSON object, pass unchanged.
 */
function protoNamedJson(schema: ProtoSchema): (endpoint: string, body: Uint8Array) => Uint8Array {
  return (endpoint, body) => {
    const type = schema.typeFor({ endpoint, kind: "response" });
    if (!type || body.length === 0) return body;
    let value: unknown;
    try {
      value = JSON.parse(decoder.decode(body));
    } catch {
      return body;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) return body;
    return encoder.encode(JSON.stringify(schema.protoNamed(type, value)));
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
