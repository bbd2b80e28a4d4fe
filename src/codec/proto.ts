/**
 * `application/protobuf` with messages described by `.proto` files, for contracts shared with Go
 * (protobufjs, an optional peer dependency: `npm install protobufjs`).
 *
 * Protobuf bytes do not say what message they hold; Go Micro learns it from the handler's Go
 * types. Here the `.proto`'s services say it: `service Greeter { rpc Hello(Request) returns
 * (Response); }` gives endpoint `Greeter.Hello` (Go Micro's name for it) its request and response
 * types. Values are plain objects with lowerCamel field names (protojson's), int64 as strings.
 */
import { createRequire } from "node:module";
import { type Codec, type CodecContext, ContentType } from "./codec.js";
import { jsonCodec } from "./json.js";

// protobufjs's own types, narrowed to what is used here (the package is optional at run time).
interface PbType {
  readonly fullName: string;
  readonly fieldsById: Record<number, PbField>;
  encode(message: PbMessage): { finish(): Uint8Array };
  decode(bytes: Uint8Array): PbMessage;
  fromObject(object: Record<string, unknown>): PbMessage;
  toObject(message: PbMessage, options: Record<string, unknown>): Record<string, unknown>;
}
type PbMessage = object;
interface PbField {
  readonly name: string;
  readonly type: string;
  readonly repeated: boolean;
  readonly map?: boolean;
  readonly resolvedType: PbType | { values: object } | null;
}
interface PbMethod {
  readonly name: string;
  readonly requestStream?: boolean;
  readonly responseStream?: boolean;
  readonly requestType: string;
  readonly responseType: string;
  resolvedRequestType: PbType | null;
  resolvedResponseType: PbType | null;
}
interface PbService {
  readonly name: string;
  readonly fullName: string;
  readonly methodsArray: PbMethod[];
}
interface PbRoot {
  resolveAll(): PbRoot;
  toDescriptor?(edition: string): { readonly file: PbFileDescriptor[] };
  lookupType(name: string): PbType;
  readonly nestedArray: PbNamespace[];
}
interface PbFileDescriptor {
  readonly name: string;
  readonly package?: string;
  readonly messageType: { name: string }[];
  readonly enumType: { name: string }[];
  readonly service: { name: string; method: { name: string }[] }[];
}
interface PbNamespace {
  readonly nestedArray?: PbNamespace[];
}
interface Protobufjs {
  Root: new () => PbRoot & { loadSync(files: string[], options: Record<string, unknown>): PbRoot };
  parse(source: string, root: PbRoot, options: Record<string, unknown>): { root: PbRoot };
  Service: abstract new (...args: never[]) => PbService;
}

export interface ProtoSchemaOptions {
  /** `.proto` files to load (imports are resolved relative to each file). */
  files?: string[];
  /** `.proto` source text, as an alternative or in addition to files. */
  source?: string | string[];
  /** Message types (full names) for endpoints that no `service` in the `.proto` describes. */
  endpoints?: Record<string, { request: string; response: string }>;
}

/** A `service` of the schema, as gRPC sees it. */
export interface ProtoService {
  /** The full name, `package.Service`. */
  readonly fullName: string;
  /** The name without the package: the handler name (Go Micro routes on it). */
  readonly name: string;
  readonly methods: readonly { readonly name: string; readonly requestStream: boolean; readonly responseStream: boolean }[];
}

/** One file of the schema as a serialized FileDescriptorProto, with the symbols it defines. */
export interface ProtoFile {
  readonly name: string;
  readonly symbols: readonly string[];
  readonly descriptor: Uint8Array;
}

/** Converts a value's object form to and from its message, with the options protojson uses. */
const TO_OBJECT = { longs: String, enums: String, bytes: String, defaults: true, json: true };

/** Messages and endpoint types from `.proto` files. */
export class ProtoSchema {
  private readonly root: PbRoot;
  private readonly byEndpoint = new Map<string, { request: PbType; response: PbType }>();
  private readonly services_: ProtoService[] = [];
  private files_: ProtoFile[] | undefined;
  /** The schema loaded with the .proto's own field names (keepCase), on first use. */
  private protoNamed_: PbRoot | undefined;

  constructor(private readonly options: ProtoSchemaOptions) {
    const pb = loadProtobufjs();
    this.root = this.load(false);
    this.indexServices(this.root, pb);
    for (const [endpoint, types] of Object.entries(options.endpoints ?? {})) {
      this.byEndpoint.set(endpoint, { request: this.type(types.request), response: this.type(types.response) });
    }
  }

  /** A message type by full name, e.g. `helloworld.Request`. */
  type(name: string): PbType {
    return this.root.lookupType(name);
  }

  /** The message type of an endpoint's request or response, if the schema knows the endpoint. */
  typeFor(context: CodecContext): PbType | undefined {
    const types = this.byEndpoint.get(context.endpoint);
    return types && (context.kind === "request" ? types.request : types.response);
  }

  get endpoints(): string[] {
    return [...this.byEndpoint.keys()];
  }

  /** The schema's services with their methods and how each streams. */
  get services(): readonly ProtoService[] {
    return this.services_;
  }

  /**
   * The schema as FileDescriptorProtos (one per package, as protobufjs rebuilds them), for gRPC
   * reflection. Field names are the .proto's own, so the schema is loaded again with keepCase.
   */
  files(): readonly ProtoFile[] {
    if (this.files_) return this.files_;
    const require = createRequire(import.meta.url);
    const descriptor = require("protobufjs/ext/descriptor") as { FileDescriptorProto: { encode(file: PbFileDescriptor): { finish(): Uint8Array } } };
    this.protoNamed_ ??= this.load(true);
    const set = this.protoNamed_.toDescriptor?.("proto3");
    this.files_ = (set?.file ?? []).map((file) => {
      const prefix = file.package ? `${file.package}.` : "";
      const symbols = [
        ...file.messageType.map((m) => prefix + m.name),
        ...file.enumType.map((e) => prefix + e.name),
        ...file.service.flatMap((svc) => [prefix + svc.name, ...svc.method.map((m) => `${prefix}${svc.name}.${m.name}`)]),
      ];
      return { name: file.name, symbols, descriptor: descriptor.FileDescriptorProto.encode(file).finish() };
    });
    return this.files_;
  }

  /** Encodes a plain object (lowerCamel or proto field names) as `type`. */
  encode(type: PbType, value: unknown): Uint8Array {
    if (value instanceof Uint8Array) return value; // already encoded, as Go Micro's raw frames
    return type.encode(type.fromObject(camelFields(type, value ?? {}))).finish();
  }

  decode(type: PbType, bytes: Uint8Array): Record<string, unknown> {
    // protobufjs's decoders trust lengths and wire types; Go's proto.Unmarshal does not.
    checkWire(type, bytes, 0, bytes.length);
    return type.toObject(type.decode(bytes), TO_OBJECT);
  }

  /** A JSON value reshaped by `type`: either field-name style in, lowerCamel out, unknown fields dropped. */
  normalize(type: PbType, value: unknown): Record<string, unknown> {
    return type.toObject(type.fromObject(camelFields(type, value ?? {})), TO_OBJECT);
  }

  /**
   * `value` as `type` in protojson with the .proto's field names (`user_id`, not `userId`) and
   * without unpopulated fields: what Go Micro's gRPC server writes for `application/grpc+json`
   * (protojson with UseProtoNames). Either name style is read.
   */
  protoNamed(type: PbType, value: unknown): Record<string, unknown> {
    this.protoNamed_ ??= this.load(true);
    const message = type.toObject(type.fromObject(camelFields(type, value ?? {})), { ...TO_OBJECT, defaults: false });
    return renameFields(type, this.protoNamed_, message);
  }

  /** The .proto files and sources as a protobufjs root; `keepCase`: the field names as written, else lowerCamel. */
  private load(keepCase: boolean): PbRoot {
    const pb = loadProtobufjs();
    const root = new pb.Root();
    if (this.options.files?.length) root.loadSync(this.options.files, { keepCase });
    for (const source of [this.options.source ?? []].flat()) pb.parse(source, root, { keepCase });
    return root.resolveAll();
  }

  private indexServices(namespace: PbNamespace, pb: Protobufjs): void {
    for (const nested of namespace.nestedArray ?? []) {
      if (nested instanceof pb.Service) {
        const service = nested as PbService;
        this.services_.push({
          fullName: service.fullName.replace(/^\./, ""),
          name: service.name,
          methods: service.methodsArray.map((m) => ({ name: m.name, requestStream: m.requestStream === true, responseStream: m.responseStream === true })),
        });
        for (const method of service.methodsArray) {
          this.byEndpoint.set(`${service.name}.${method.name}`, { request: method.resolvedRequestType!, response: method.resolvedResponseType! });
        }
      }
      this.indexServices(nested, pb);
    }
  }
}

/** `application/protobuf` for the endpoints `schema` describes. */
export function protobufCodec(schema: ProtoSchema): Codec {
  return {
    contentType: ContentType.protobuf,
    encode(value: unknown, context?: CodecContext): Uint8Array {
      if (value instanceof Uint8Array) return value;
      return schema.encode(requireType(schema, context), value);
    },
    decode(bytes: Uint8Array, context?: CodecContext): unknown {
      const type = context && schema.typeFor(context);
      // An event, or an endpoint the schema does not know: hand over the bytes.
      if (!type) return bytes;
      return schema.decode(type, bytes);
    },
  };
}

/**
 * `application/json` that reads both protojson's lowerCamel names and proto field names for the
 * endpoints `schema` describes (Go Micro v5 writes the former, v2–v4 the latter) and writes
 * lowerCamel. Bodies of other endpoints are plain JSON.
 */
export function protoJsonCodec(schema: ProtoSchema): Codec {
  return {
    contentType: ContentType.json,
    encode(value: unknown, context?: CodecContext): Uint8Array {
      const type = context && schema.typeFor(context);
      return jsonCodec.encode(type ? schema.normalize(type, value) : value);
    },
    decode(bytes: Uint8Array, context?: CodecContext): unknown {
      const value = jsonCodec.decode(bytes);
      const type = context && schema.typeFor(context);
      return type ? schema.normalize(type, value) : value;
    },
  };
}

function requireType(schema: ProtoSchema, context: CodecContext | undefined): PbType {
  const type = context && schema.typeFor(context);
  if (type) return type;
  const known = schema.endpoints.join(", ") || "none";
  throw new TypeError(
    `application/protobuf: no message type for ${context ? `${context.endpoint} ${context.kind}` : "this message"} (endpoints in the .proto: ${known})`,
  );
}

const VARINT = new Set(["int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool"]);
const FIXED64 = new Set(["fixed64", "sfixed64", "double"]);
const FIXED32 = new Set(["fixed32", "sfixed32", "float"]);

/** The wire type a field is written with (2 for strings, bytes, messages and maps). */
function wireTypeOf(field: PbField): number {
  if (field.map) return 2;
  if (VARINT.has(field.type) || (field.resolvedType && "values" in field.resolvedType)) return 0;
  if (FIXED64.has(field.type)) return 1;
  if (FIXED32.has(field.type)) return 5;
  return 2;
}

/** Walks the wire format of `bytes[start, end)`: every length in bounds, every known field with its own wire type. */
function checkWire(type: PbType, bytes: Uint8Array, start: number, end: number): void {
  let at = start;
  while (at < end) {
    let key: number;
    [key, at] = varintAt(bytes, at, end);
    const id = Math.floor(key / 8);
    const wire = key % 8;
    if (id === 0) throw new RangeError(`protobuf: field number 0 at offset ${at}`);
    const field = type.fieldsById[id];
    const expected = field ? wireTypeOf(field) : wire;
    if (field && wire !== expected && !(wire === 2 && field.repeated && expected !== 2)) {
      throw new RangeError(`protobuf: field ${id} of ${type.fullName} has wire type ${wire}, expected ${expected}`);
    }
    switch (wire) {
      case 0:
        at = varintAt(bytes, at, end)[1];
        break;
      case 1:
      case 5:
        at += wire === 1 ? 8 : 4;
        if (at > end) throw new RangeError(`protobuf: truncated fixed-size field ${id} of ${type.fullName}`);
        break;
      case 2: {
        let length: number;
        [length, at] = varintAt(bytes, at, end);
        if (at + length > end) throw new RangeError(`protobuf: field ${id} of ${type.fullName} claims ${length} bytes, ${end - at} remain`);
        const nested = field && !field.map && field.resolvedType && "fieldsById" in field.resolvedType ? field.resolvedType : undefined;
        if (nested) checkWire(nested, bytes, at, at + length);
        at += length;
        break;
      }
      default:
        throw new RangeError(`protobuf: unsupported wire type ${wire} (field ${id} of ${type.fullName})`);
    }
  }
}

function varintAt(bytes: Uint8Array, at: number, end: number): [number, number] {
  let value = 0;
  for (let shift = 0; shift < 64; shift += 7) {
    if (at >= end) throw new RangeError("protobuf: truncated varint");
    const b = bytes[at++];
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, at];
  }
  throw new RangeError("protobuf: varint longer than 10 bytes");
}

/** `user_id` → `userId`, recursively: protojson's JSON names for proto field names. */
/**
 * A message object of `type` (lowerCamel keys) with the field names of the same type in
 * `protoNamed` (loaded with keepCase), matched by field number; nested messages, repeated
 * messages and map values too. Map keys are data and stay as they are.
 */
function renameFields(type: PbType, protoNamed: PbRoot, message: Record<string, unknown>): Record<string, unknown> {
  const named = protoNamed.lookupType(type.fullName);
  const out: Record<string, unknown> = {};
  for (const [id, field] of Object.entries(type.fieldsById)) {
    const value = message[field.name];
    if (unpopulated(field, value)) continue;
    const nested = field.resolvedType && "fieldsById" in field.resolvedType ? field.resolvedType : undefined;
    const rename = (inner: unknown): unknown => (nested && isRecord(inner) ? renameFields(nested, protoNamed, inner) : inner);
    let renamed: unknown = value;
    if (field.map && isRecord(value)) renamed = Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, rename(inner)]));
    else if (Array.isArray(value)) renamed = value.map(rename);
    else renamed = rename(value);
    out[named.fieldsById[Number(id)]?.name ?? field.name] = renamed;
  }
  return out;
}

/**
 * True for a value protojson leaves out (EmitUnpopulated false): absent, a scalar at its zero
 * value (`""`, 0, `"0"` for 64-bit, false, the enum's zero name), an empty list or map. A set
 * message is populated even when empty.
 */
function unpopulated(field: PbField, value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (field.map) return isRecord(value) && Object.keys(value).length === 0;
  if (field.resolvedType && "values" in field.resolvedType) {
    const values = field.resolvedType.values as Record<string, number>;
    return value === 0 || values[String(value)] === 0;
  }
  if (field.resolvedType) return false;
  return value === "" || value === 0 || value === "0" || value === false;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A plain object for `type` with its field names in lowerCamel, whichever style they came in
 * (`user_id` or `userId`): nested messages too, but not map keys, which are data.
 */
function camelFields(type: PbType, value: unknown): Record<string, unknown> {
  if (!isRecord(value)) return value as Record<string, unknown>;
  const fields = new Map(Object.values(type.fieldsById).map((field) => [field.name, field]));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    const name = key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    const field = fields.get(name);
    const nested = field?.resolvedType && "fieldsById" in field.resolvedType ? field.resolvedType : undefined;
    const camel = (item: unknown): unknown => (nested ? camelFields(nested, item) : item);
    if (!field || !nested) out[name] = inner;
    else if (field.map && isRecord(inner)) out[name] = Object.fromEntries(Object.entries(inner).map(([k, v]) => [k, camel(v)]));
    else if (Array.isArray(inner)) out[name] = inner.map(camel);
    else out[name] = camel(inner);
  }
  return out;
}

let protobufjs: Protobufjs | undefined;

function loadProtobufjs(): Protobufjs {
  if (protobufjs) return protobufjs;
  try {
    protobufjs = createRequire(import.meta.url)("protobufjs") as Protobufjs;
    return protobufjs;
  } catch (err) {
    throw new Error(`application/protobuf needs the protobufjs package: npm install protobufjs (${(err as Error).message})`);
  }
}

/**
 * The default `application/protobuf` before a schema is given: bodies are passed through as bytes
 * (a handler decodes them itself, as with Go Micro's raw frames). Register `protobufCodec(schema)`
 * to get objects instead.
 */
export const rawProtobufCodec: Codec = {
  contentType: ContentType.protobuf,
  encode(value: unknown): Uint8Array {
    if (value instanceof Uint8Array) return value;
    if (value === undefined || value === null) return new Uint8Array(0);
    throw new TypeError("application/protobuf without a schema encodes Uint8Array values only: register protobufCodec(new ProtoSchema({ files: [...] }))");
  },
  decode(bytes: Uint8Array): unknown {
    return bytes;
  },
};
