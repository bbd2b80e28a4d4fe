/**
 * Every header name ts-micro reads or writes, in one place, spelled as Go Micro sends them.
 * Headers are read case-insensitively where they arrive over HTTP; the mux and NATS transports
 * carry them exactly as written here.
 */
/** Headers as they travel with a call or a message: names as written, one value each. */
export type Header = Record<string, string>;

/** The trace headers of a span (`traceparent`, `tracestate`, Go Micro's ids), handed to the calls made under it. */
export type TraceHeaders = Readonly<Header>;
/** No span to join: calls start traces of their own. */
export const NO_TRACE: TraceHeaders = Object.freeze({});

export const MicroHeader = {
  /** The service a request is for. */
  Service: "Micro-Service",
  /** `<Handler>.<Method>` of the request. */
  Endpoint: "Micro-Endpoint",
  /** Go Micro sends the endpoint again under this name. */
  Method: "Micro-Method",
  /** The call (or message) id. */
  Id: "Micro-Id",
  /** Present on a stream's opening request. */
  Stream: "Micro-Stream",
  /** ts-micro: the caller sends a stream of requests (client and bidirectional streams). */
  StreamInput: "Micro-Stream-Input",
  /** A reply's error, as MicroError JSON. */
  Error: "Micro-Error",
  /** The topic of a published message. */
  Topic: "Micro-Topic",
  /** The service that made a call or published a message. */
  FromService: "Micro-From-Service",
  ContentType: "Content-Type",
  /** ts-micro: on a dead-lettered message, the topic it was published to. */
  DeadLetterTopic: "Micro-Dead-Letter-Topic",
  /** ts-micro: on a dead-lettered message, why its handler failed the last time. */
  DeadLetterReason: "Micro-Dead-Letter-Reason",
  /** ts-micro: on a dead-lettered message, how many times it was handled. */
  DeadLetterAttempts: "Micro-Dead-Letter-Attempts",
  /** On a 429 or 503: seconds until the caller may try again (as HTTP's). */
  RetryAfter: "Retry-After",
  /** What is left of the caller's deadline, in nanoseconds. */
  Timeout: "Timeout",
} as const;

export type MicroHeaderName = (typeof MicroHeader)[keyof typeof MicroHeader];

/** The headers callHeader writes; typed by MicroHeader, so that a misspelt name there does not compile. */
type CallHeader = Record<
  | typeof MicroHeader.Service
  | typeof MicroHeader.Endpoint
  | typeof MicroHeader.Method
  | typeof MicroHeader.ContentType
  | typeof MicroHeader.Timeout
  | typeof MicroHeader.Id,
  string
>;

/**
 * The headers a client sends with a unary call, Micro-Id (which changes on every call) last, so
 * that a server reuses what the block repeats of the one before (HeaderMemo). The names are
 * written out: V8 builds an object literal with computed names (`[MicroHeader.Service]: …`)
 * through its runtime, a call per name, which was an eighth of a client's instructions per call.
 */
export function callHeader(service: string, endpoint: string, contentType: string, timeout: string, id: string): Header {
  const header: CallHeader = {
    "Micro-Service": service,
    "Micro-Endpoint": endpoint,
    "Micro-Method": endpoint,
    "Content-Type": contentType,
    Timeout: timeout,
    "Micro-Id": id,
  };
  return header;
}

/**
 * A header's value by case-insensitive name, from a plain record of headers (a broker message's,
 * say): the exact spelling is tried first, since Go Micro versions canonicalise names differently
 * (`Micro-ID` vs `Micro-Id`).
 */
export function headerValue(header: Record<string, string>, name: string): string | undefined {
  if (name in header) return header[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(header)) if (key.toLowerCase() === lower) return header[key];
  return undefined;
}
