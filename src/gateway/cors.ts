/**
 * Cross-origin requests (CORS), off unless configured: browsers on the listed origins may call the
 * gateway, preflights are answered here, and every other origin gets no CORS headers (so the
 * browser refuses the response, as it should).
 */
import type { IncomingMessage, ServerResponse } from "node:http";

export interface CorsOptions {
  /** Allowed origins (`https://app.example.com`), or `"*"` for any. */
  origins: "*" | readonly string[];
  /** Let browsers send cookies and HTTP auth (`Access-Control-Allow-Credentials`); the origin is then echoed, never `*`. */
  credentials?: boolean;
  /** Request headers a browser may send (default: whatever the preflight asks for). */
  allowHeaders?: readonly string[];
  /** Response headers scripts may read. */
  exposeHeaders?: readonly string[];
  /** Seconds a browser may cache a preflight's answer (default 600). */
  maxAge?: number;
}

const METHODS = "GET, POST, OPTIONS";

export class Cors {
  private readonly origins: ReadonlySet<string> | "*";

  constructor(private readonly options: CorsOptions) {
    this.origins = options.origins === "*" ? "*" : new Set(options.origins);
  }

  /**
   * Adds the CORS headers for an allowed origin; true when the request was a preflight, which
   * this has answered (204, or 403 for an origin not allowed).
   */
  apply(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin;
    const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    if (origin === undefined) return false;
    if (!this.allows(origin)) {
      if (!preflight) return false;
      res.writeHead(403, { "Content-Length": "0" }).end();
      return true;
    }
    res.setHeader("Access-Control-Allow-Origin", this.origins === "*" && !this.options.credentials ? "*" : origin);
    res.setHeader("Vary", "Origin");
    if (this.options.credentials) res.setHeader("Access-Control-Allow-Credentials", "true");
    if (this.options.exposeHeaders?.length) res.setHeader("Access-Control-Expose-Headers", this.options.exposeHeaders.join(", "));
    if (!preflight) return false;
    const asked = req.headers["access-control-request-headers"];
    const headers = this.options.allowHeaders?.join(", ") ?? asked;
    res.writeHead(204, {
      "Access-Control-Allow-Methods": METHODS,
      ...(headers ? { "Access-Control-Allow-Headers": headers } : {}),
      "Access-Control-Max-Age": String(this.options.maxAge ?? 600),
      "Content-Length": "0",
    });
    res.end();
    return true;
  }

  private allows(origin: string): boolean {
    return this.origins === "*" || this.origins.has(origin);
  }
}
