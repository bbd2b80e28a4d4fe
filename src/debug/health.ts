/**
 * Health checks a service runs when asked whether it is healthy: "is the database reachable",
 * "is the broker connected". The report has Go Micro's `health` package JSON shape
 * (`{status, checks: [{name, status, error?, duration}]}`, duration in nanoseconds), and the
 * service is `down` exactly when a critical check fails. Checks run concurrently, each bounded by
 * its timeout, so one hung dependency cannot hang a probe.
 */

/** Resolves (with anything) when healthy; throws or rejects when not. */
export type CheckFunc = (signal: AbortSignal) => unknown;

export interface CheckOptions {
  /** A failing critical check makes the service `down` (default true, as Go Micro's `Register`). */
  critical?: boolean;
  /** How long the check may take before it counts as failed, in ms (default 5 s, as Go Micro). */
  timeout?: number;
}

export type HealthStatus = "up" | "down";

export interface CheckResult {
  name: string;
  status: HealthStatus;
  /** Why the check failed. */
  error?: string;
  /** How long it ran, in nanoseconds (Go's `time.Duration` in JSON). */
  duration: number;
  critical: boolean;
}

export interface HealthReport {
  status: HealthStatus;
  checks?: CheckResult[];
  info?: Record<string, string>;
}

interface Check {
  fn: CheckFunc;
  critical: boolean;
  timeout: number;
}

export const DEFAULT_CHECK_TIMEOUT = 5_000;

export class HealthChecks {
  private readonly checks = new Map<string, Check>();

  /** Adds (or replaces) the check `name`. */
  check(name: string, fn: CheckFunc, options: CheckOptions = {}): this {
    if (!name) throw new TypeError("health.check(): a check needs a name");
    if (typeof fn !== "function") throw new TypeError(`health.check(${JSON.stringify(name)}): the check must be a function`);
    const timeout = options.timeout ?? DEFAULT_CHECK_TIMEOUT;
    if (!(timeout > 0)) throw new RangeError(`health.check(${JSON.stringify(name)}): timeout must be a positive number of ms`);
    this.checks.set(name, { fn, critical: options.critical ?? true, timeout });
    return this;
  }

  /** Removes the check `name`; true if there was one. */
  remove(name: string): boolean {
    return this.checks.delete(name);
  }

  /** The names of the registered checks. */
  get names(): string[] {
    return [...this.checks.keys()];
  }

  /** Runs every check concurrently; `down` when a critical one fails. */
  async run(): Promise<HealthReport> {
    const results = await Promise.all([...this.checks].map(([name, check]) => runCheck(name, check)));
    const down = results.some((r) => r.critical && r.status === "down");
    return results.length === 0 ? { status: "up" } : { status: down ? "down" : "up", checks: results };
  }
}

async function runCheck(name: string, check: Check): Promise<CheckResult> {
  const started = process.hrtime.bigint();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`timed out after ${check.timeout} ms`));
    }, check.timeout);
  });
  try {
    await Promise.race([Promise.resolve().then(() => check.fn(controller.signal)), timedOut]);
    return { name, status: "up", duration: elapsed(started), critical: check.critical };
  } catch (err) {
    return { name, status: "down", error: err instanceof Error ? err.message : String(err), duration: elapsed(started), critical: check.critical };
  } finally {
    clearTimeout(timer);
  }
}

function elapsed(started: bigint): number {
  return Number(process.hrtime.bigint() - started);
}
