/**
 * Go Micro's `Debug` handler (`debug/proto/debug.proto`): `Debug.Health` and `Debug.Stats`, which
 * every service serves as an internal handler (not published as endpoints, as Go Micro v2 did).
 * Health answers `{"status":"ok"}` while every critical check passes, else `{"status":"down"}`.
 * Go Micro's JSON codec refuses unknown response fields, so the check results come only to a
 * caller that asks for them with `{"checks": true}` (a field Go clients never send).
 */
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

export class Debug {
  constructor(
    private readonly checks: HealthChecks,
    private readonly monitor: ProcessMonitor,
    private readonly counts: CallCounts,
  ) {}

  async Health(request: DebugRequest | null): Promise<HealthResponse> {
    const report = await this.checks.run();
    const status = report.status === "up" ? "ok" : "down";
    return request?.checks === true ? { status, checks: report.checks ?? [] } : { status };
  }

  async Stats(_request: DebugRequest | null): Promise<StatsResponse> {
    return this.monitor.stats(this.counts);
  }
}
