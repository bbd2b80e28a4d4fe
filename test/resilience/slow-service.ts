/**
 * A service process for the resilience tests and the overload benchmark. Its handlers are slow on
 * request, fail on request, and count the calls they get, so a test can see from the outside what
 * reached the server. Env: SERVICE_NAME (default "slow"), SLOW_MS, FAILING, plus the MICRO_*
 * variables (MICRO_SERVER_CONCURRENCY, MICRO_SERVER_QUEUE, MICRO_SERVER_RATE_LIMITS).
 * Prints "READY <address>" once registered; runs until SIGTERM/SIGINT.
 */
import { createService, MicroError } from "../../src/index.js";

const service = createService({ name: process.env.SERVICE_NAME ?? "slow" });
const calls: Record<string, number> = {};
let failing = process.env.FAILING === "true";
let cached = 0;

const count = (endpoint: string): void => {
  calls[endpoint] = (calls[endpoint] ?? 0) + 1;
};

class Slow {
  /** Takes `ms` (default SLOW_MS, else 50) to answer. */
  async Work(req: { ms?: number }): Promise<{ ok: true; node: string }> {
    count("Work");
    await new Promise((resolve) => setTimeout(resolve, req.ms ?? Number(process.env.SLOW_MS ?? 50)));
    return { ok: true, node: service.id };
  }
  /** A service in an outage: always 503. */
  async Unavailable(): Promise<never> {
    count("Unavailable");
    throw MicroError.unavailable(service.name, "down for maintenance");
  }
  /** Fails with a 500 while `failing` (see Toggle). */
  async Flaky(): Promise<{ ok: true }> {
    count("Flaky");
    if (failing) throw MicroError.internal(service.name, "flaky is failing");
    return { ok: true };
  }
  async Toggle(req: { failing: boolean }): Promise<{ failing: boolean }> {
    failing = req.failing;
    return { failing };
  }
  /** A fresh number per call that reaches the server (to tell a cached answer from a new one). */
  async Fresh(req: { key?: string }): Promise<{ n: number; key?: string }> {
    count("Fresh");
    return { n: ++cached, key: req.key };
  }
  async Limited(): Promise<{ ok: true }> {
    count("Limited");
    return { ok: true };
  }
  /** Calls received by endpoint, and this process's memory. */
  async Stats(): Promise<{ calls: Record<string, number>; rss: number; shed: number }> {
    return { calls, rss: process.memoryUsage().rss, shed: service.limiter?.shed ?? 0 };
  }
}

service.handle(new Slow());
await service.start();
process.stdout.write(`READY ${service.address}\n`);
await new Promise<void>((resolve) => {
  process.once("SIGTERM", resolve);
  process.once("SIGINT", resolve);
});
await service.stop();
