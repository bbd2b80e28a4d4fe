/**
 * `application/json-rpc`: Go Micro's legacy JSON-RPC 1.0 envelope. A request is
 * `{"method":"Greeter.Hello","params":[<body>],"id":"7"}`, a response
 * `{"id":"7","result":<body>,"error":null|"<error>"}`. Go Micro clients use it for nodes that do
 * not advertise `protocol: mucp`; events (no context) are bare JSON, as Go Micro's codec.Event.
 */
import { MicroError } from "../errors/errors.js";
import { type Codec, type CodecContext, ContentType } from "./codec.js";
import { jsonCodec } from "./json.js";

interface Envelope {
  method?: unknown;
  params?: unknown;
  id?: unknown;
  result?: unknown;
  error?: unknown;
}

export const jsonRpcCodec: Codec = {
  contentType: ContentType.jsonRpc,
  encode(value: unknown, context?: CodecContext): Uint8Array {
    if (!context) return jsonCodec.encode(value);
    const envelope =
      context.kind === "request"
        ? { method: context.endpoint, params: [value ?? null], id: context.id ?? "0" }
        : { id: context.id ?? null, result: value ?? null, error: null };
    return Buffer.from(JSON.stringify(envelope));
  },
  decode(bytes: Uint8Array, context?: CodecContext): unknown {
    const value = jsonCodec.decode(bytes) as Envelope | null;
    if (!isObject(value)) {
      if (context) throw new SyntaxError("json-rpc: the body is not an envelope object");
      return value;
    }
    if (isRequest(value)) return (value.params as unknown[])[0] ?? {};
    if (isResponse(value)) {
      if (value.error !== null && value.error !== undefined && value.error !== "") throw MicroError.parse(String(value.error));
      return value.result;
    }
    if (context) throw new SyntaxError(`json-rpc: the body is not a ${context.kind} envelope`);
    return value;
  },
};

function isObject(value: unknown): value is Envelope {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isRequest(value: Envelope): boolean {
  return typeof value.method === "string" && Array.isArray(value.params);
}

function isResponse(value: Envelope): boolean {
  return "id" in value && ("result" in value || "error" in value);
}
