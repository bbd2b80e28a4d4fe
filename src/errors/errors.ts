/**
 * Errors that cross the wire. The shape is Go Micro's: `{id, code, detail, status}`, with HTTP
 * status codes, so a Go Micro service and a ts-micro service understand each other's failures.
 */

/** The JSON form of a MicroError, exactly as Go Micro marshals it. */
export interface MicroErrorJSON {
  id: string;
  code: number;
  detail: string;
  status: string;
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  499: "Client Closed Request",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** HTTP reason phrase for a code ("" when unknown, as Go's http.StatusText). */
export function statusText(code: number): string {
  return STATUS_TEXT[code] ?? "";
}

/** The ids of errors the framework raises itself (Go Micro's names), rather than a service. */
export const ErrorId = {
  client: "go.micro.client",
  server: "go.micro.server",
  transport: "go.micro.transport",
  broker: "go.micro.broker",
  codec: "go.micro.codec",
  store: "go.micro.store",
  sync: "go.micro.sync",
  config: "go.micro.config",
} as const;

/**
 * Carried by every MicroError's prototype, under a registry-wide symbol: a MicroError made by
 * another copy of ts-micro in the same process (two installed versions, or the package entry and
 * its compiled sources side by side) is still recognised as one, so its code is not lost as a 500.
 */
const MICRO_ERROR = Symbol.for("ts-micro.MicroError");

export class MicroError extends Error {
  override readonly name = "MicroError";

  /** `value instanceof MicroError` holds for a MicroError from any copy of ts-micro (subclasses check as usual). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class asked about, MicroError or a subclass
    if (this !== MicroError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === "object" && value !== null && (value as { [MICRO_ERROR]?: boolean })[MICRO_ERROR] === true;
  }

  constructor(
    /** Who raised it: a service name, or `go.micro.client` / `go.micro.server` for the framework. */
    readonly id: string,
    /** HTTP-style status code; 0 when the peer sent a plain-text error. */
    readonly code: number,
    readonly detail: string,
    readonly status: string = statusText(code),
  ) {
    super(detail);
  }

  static badRequest(id: string, detail: string): MicroError {
    return new MicroError(id, 400, detail);
  }
  static unauthorized(id: string, detail: string): MicroError {
    return new MicroError(id, 401, detail);
  }
  static forbidden(id: string, detail: string): MicroError {
    return new MicroError(id, 403, detail);
  }
  static notFound(id: string, detail: string): MicroError {
    return new MicroError(id, 404, detail);
  }
  static methodNotAllowed(id: string, detail: string): MicroError {
    return new MicroError(id, 405, detail);
  }
  static timeout(id: string, detail: string): MicroError {
    return new MicroError(id, 408, detail);
  }
  static conflict(id: string, detail: string): MicroError {
    return new MicroError(id, 409, detail);
  }
  static tooLarge(id: string, detail: string): MicroError {
    return new MicroError(id, 413, detail);
  }
  static internal(id: string, detail: string): MicroError {
    return new MicroError(id, 500, detail);
  }
  static unavailable(id: string, detail: string): MicroError {
    return new MicroError(id, 503, detail);
  }

  /**
   * Parses an error string from the wire. Never fails: text that is not Go Micro's error JSON
   * becomes `{code: 0, detail: text}`, as Go Micro's `errors.Parse` does.
   */
  static parse(text: string): MicroError {
    try {
      const value = JSON.parse(text) as Partial<MicroErrorJSON> | null;
      if (value && typeof value === "object" && ("code" in value || "detail" in value || "id" in value)) {
        const code = typeof value.code === "number" ? value.code : 0;
        return new MicroError(String(value.id ?? ""), code, String(value.detail ?? ""), value.status ?? statusText(code));
      }
    } catch {
      // not JSON: fall through to the plain-text form
    }
    return new MicroError("", 0, text, "");
  }

  /** Wraps anything thrown into a MicroError; non-MicroErrors become 500s carrying `detail`. */
  static from(err: unknown, id: string, detail?: string): MicroError {
    if (err instanceof MicroError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new MicroError(id, 500, detail ?? message);
  }

  toJSON(): MicroErrorJSON {
    return { id: this.id, code: this.code, detail: this.detail, status: this.status };
  }

  /** The wire form (the `Micro-Error` header value). */
  override toString(): string {
    return JSON.stringify(this.toJSON());
  }
}
Object.defineProperty(MicroError.prototype, MICRO_ERROR, { value: true });

/**
 * A refusal that says when to come back: a 503 from a server shedding load, a 429 from a rate
 * limit. `retryAfter` (ms) travels beside the error as a `Retry-After` header, in whole seconds as
 * in HTTP, so the error JSON keeps Go Micro's shape.
 */
export class RetryLaterError extends MicroError {
  constructor(
    id: string,
    code: number,
    detail: string,
    /** When to try again, in ms. */
    readonly retryAfter: number,
  ) {
    super(id, code, detail);
  }

  /** The `Retry-After` header value: whole seconds, at least 1. */
  get header(): string {
    return Math.max(1, Math.ceil(this.retryAfter / 1_000)).toFixed(0);
  }

  /** `err` with the hint of a `Retry-After` header (seconds) when there is one; `err` itself otherwise. */
  static withHint(err: MicroError, header: string | undefined): MicroError {
    const seconds = header === undefined ? Number.NaN : Number(header);
    if (!Number.isFinite(seconds) || seconds < 0) return err;
    return new RetryLaterError(err.id, err.code, err.detail, seconds * 1_000);
  }
}

/** True when `err` is a MicroError with the given code. */
export function isMicroError(err: unknown, code?: number): err is MicroError {
  return err instanceof MicroError && (code === undefined || err.code === code);
}

/**
 * An error the client raised on its own side of the wire: a deadline that passed while waiting, a
 * call cancelled by its caller, no node to call, a connection that failed. No server sent it, so
 * it says nothing about what the service thinks; retries tell it apart from a server's 408 or 503
 * by this type, not by its id. Once it crosses the wire (a handler rethrows it) it arrives as a
 * plain MicroError: for the next caller it is the server's answer.
 */
export class LocalError extends MicroError {
  constructor(code: number, detail: string, id: string = ErrorId.client) {
    super(id, code, detail);
  }

  /** `err` as raised on this side: a MicroError keeps its id, code and detail; anything else is a 500. */
  static of(err: unknown): LocalError {
    if (err instanceof LocalError) return err;
    if (err instanceof MicroError) return new LocalError(err.code, err.detail, err.id);
    return new LocalError(500, err instanceof Error ? err.message : String(err));
  }
}
