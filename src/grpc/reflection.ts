/**
 * gRPC server reflection (`grpc.reflection.v1` and `v1alpha`, the same messages), so grpcurl,
 * Postman and grpcui can list the services and, when the service has a `.proto`, describe and
 * call them without a copy of it.
 */
import type { InternalMethod } from "./server.js";
import { ProtoWriter, readFields, text } from "./wire.js";

export const REFLECTION_SERVICES = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"] as const;

/** What reflection reports. */
export interface ReflectionSource {
  /** Full names of the services served. */
  services(): string[];
  /** Serialized FileDescriptorProtos: the file defining `symbol` (or named `symbol`), with the files it needs. */
  files(symbolOrFile: string): Uint8Array[] | undefined;
}

const NOT_FOUND = 5;
const UNIMPLEMENTED = 12;

export function reflectionService(source: ReflectionSource): Record<string, InternalMethod> {
  return {
    async ServerReflectionInfo(call) {
      for (let request = await call.recv(); request; request = await call.recv()) {
        await call.send({ header: {}, body: answer(source, request.body) });
      }
    },
  };
}

/** One ServerReflectionResponse for one ServerReflectionRequest. */
function answer(source: ReflectionSource, request: Uint8Array): Uint8Array {
  const out = new ProtoWriter();
  let fields: ReturnType<typeof readFields>;
  try {
    fields = readFields(request);
  } catch (err) {
    return out.bytes(7, errorResponse(3, `malformed request: ${(err as Error).message}`)).finish();
  }
  out.bytes(1, text(fields.find((f) => f.field === 1)?.value)).bytes(2, request, true);
  const asked = (n: number) => fields.find((f) => f.field === n);
  if (asked(7)) {
    const list = new ProtoWriter();
    for (const name of source.services()) list.bytes(1, new ProtoWriter().bytes(1, name).finish(), true);
    return out.bytes(6, list.finish(), true).finish();
  }
  const symbol = asked(3) ?? asked(4);
  if (symbol) {
    const name = text(symbol.value);
    const files = source.files(name);
    if (!files?.length) return out.bytes(7, errorResponse(NOT_FOUND, `${symbol.field === 3 ? "file" : "symbol"} not found: ${name}`)).finish();
    const response = new ProtoWriter();
    for (const file of files) response.bytes(1, file, true);
    return out.bytes(4, response.finish(), true).finish();
  }
  return out.bytes(7, errorResponse(UNIMPLEMENTED, "extensions are not supported")).finish();
}

function errorResponse(code: number, message: string): Uint8Array {
  return new ProtoWriter().varint(1, code).bytes(2, message).finish();
}
