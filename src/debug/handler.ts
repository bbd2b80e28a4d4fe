/**
 * Go Micro's `Debug` handler (`debug/proto/debug.proto`): `Debug.Health`, `Debug.Stats` and
 * `Debug.Log`, which every service serves as an internal handler (not published as endpoints, as
 * Go Micro v2 did).
 * Health answers `{"status":"ok"}` while every critical check passes, else `{"status":"down"}`.
 * Go Micro's JSON codec refuses unknown response fields, so the check results come only to a
 * caller that asks for them with `{"checks": true}` (a field Go clients never send).
 */

import { MicroError } from "../errors/errors.js";
import type { LogRecord, LogRing } from "../logger/ring.js";
import type { Context } from "../metadata/context.js";
import type { CheckResult, HealthChecks } from "./health.js";
import type { CallCounts, ProcessMonitor, StatsResponse } from "./stats.js";

export const DEBUG_HANDLER = "Debug";

/** Go Micro's `HealthRequest` / `StatsRequest`: the service asked about (unused, as in Go Micro). */
export interface DebugRequest {
  service?: string;
  /** Health only: include each check's result (a ts-micro extension). */
  checks?: boolean;
}

/** Go Micro's `HealthResponse` (`status` is "ok" when healthy). */
export interface HealthResponse {
  status: "ok" | "down";
  checks?: CheckResult[];
}

/**
 * Go Micro's `LogRequest`. `since` is an absolute unix time in seconds, as Go Micro's handler
 * reads it (the proto's comment says relative; the code does not). Go clients send the int64
 * fields as JSON strings (protojson), so numbers in strings are accepted.
 */
export interface LogRequest {
  service?: string;
  /** Keep streaming new records after the kept ones. */
  stream?: boolean;
  /** At most this many of the kept records, the newest (0: all). */
  count?: number | string;
  /** Only records from this unix time (seconds) on (0: any). */
  since?: number | string;
}

export type { LogRecord };

export class Debug {
  constructor(
    private readonly checks: HealthChecks,
    private readonly monitor: ProcessMonitor,
    private readonly counts: CallCounts,
    private readonly logs: LogRing,
  ) {}

  async Health(request: DebugRequest | null): Promise<HealthResponse> {
    const report = await this.checks.run();
    const status = report.status === "up" ? "ok" : "down";
    return request?.checks === true ? { status, checks: report.checks ?? [] } : { status };
  }

  async Stats(_request: DebugRequest | null): Promise<StatsResponse> {
    return this.monitor.stats(this.counts);
  }

  /** The kept log records (a stream of `Record`s, as Go Micro's), then new ones while `stream` is set. */
  async *Log(request: LogRequest | null, ctx: Context): AsyncGenerator<LogRecord> {
    const count = integer(request?.count, "count");
    const since = integer(request?.since, "since");
    if (request?.stream !== true) {
      yield* this.logs.read({ count, since });
      return;
    }
    yield* this.logs.follow(ctx.signal, { count, since });
  }
}

function integer(value: number | string | undefined, name: string): number {
  if (value === undefined || value === null || value === "") return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw MicroError.badRequest("debug", `Debug.Log: ${name} must be a non-negative integer (got ${JSON.stringify(value)})`);
  return n;
}
