/** A small HTTP client for the gateway tests (node:http, so a test controls the socket). */
import http from "node:http";

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: <T = Record<string, unknown>>() => T;
}

export function request(
  url: string,
  options: { method?: string; body?: string | Buffer; headers?: Record<string, string>; timeout?: number; agent?: http.Agent } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? (options.body === undefined ? "GET" : "POST"), headers: options.headers, agent: options.agent ?? false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T }));
        res.on("error", reject);
      },
    );
    req.setTimeout(options.timeout ?? 10_000, () => req.destroy(new Error(`${options.method ?? "GET"} ${url}: no answer in time`)));
    req.on("error", reject);
    req.end(options.body);
  });
}

export const post = (url: string, body: unknown, headers?: Record<string, string>): Promise<Reply> =>
  request(url, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers: { "Content-Type": "application/json", ...headers } });

/**
 * Opens a streaming request and hands back the response as it arrives: `chunks` grows, `abort()`
 * drops the connection (the HTTP client going away).
 */
export function openStream(
  url: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: () => string; ended: Promise<void>; abort: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      const ended = new Promise<void>((done) => {
        res.on("end", done);
        res.on("close", done);
      });
      res.on("error", () => {});
      resolve({ status: res.statusCode ?? 0, headers: res.headers, text: () => text, ended, abort: () => req.destroy() });
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}
