/**
 * A deliberately slow service for the overload benchmark: `Slow.Work` takes SLOW_MS (default 50)
 * to answer; `Slow.Stats` reports RSS and the calls shed. Load shedding comes from the env
 * (MICRO_SERVER_CONCURRENCY, MICRO_SERVER_QUEUE). Prints "READY host:port".
 */
import { createService } from "../../src/index.js";

const service = createService({ name: "bench-slow" });
const slowMs = Number(process.env.SLOW_MS ?? 50);

class Slow {
  async Work(): Promise<{ ok: true }> {
    await new Promise((resolve) => setTimeout(resolve, slowMs));
    return { ok: true };
  }
  async Stats(): Promise<{ rss: number; shed: number }> {
    return { rss: process.memoryUsage().rss, shed: service.limiter?.shed ?? 0 };
  }
}

service.handle(new Slow());
await service.start();
process.stdout.write(`READY ${service.address}\n`);
process.on("SIGTERM", () => void service.stop().then(() => process.exit(0)));
