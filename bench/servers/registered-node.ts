/**
 * A service node for the discovery benchmark: registers in the registry named by MICRO_REGISTRY,
 * then prints `READY <address> <time registered, ms since epoch>`; stops on SIGTERM.
 */
import { createService } from "../../src/index.js";

const service = createService({ name: process.env.SERVICE_NAME ?? "bench-discovery" });
service.handle(
  new (class Echo {
    async Echo(req: Record<string, unknown>): Promise<Record<string, unknown>> {
      return req;
    }
  })(),
);
await service.start();
process.stdout.write(`READY ${service.address} ${Date.now()}\n`);
await new Promise<void>((resolve) => process.once("SIGTERM", resolve));
await service.stop();
process.exit(0);
