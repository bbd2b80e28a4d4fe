/** Starts the slow service (slow-service.ts) as another process, on a registry of its own. */
import path from "node:path";
import { type ServiceProcess, startProcess, tempRegistry } from "../process/harness.js";

export const slowService = path.join(import.meta.dirname, "slow-service.js");

export interface Started extends ServiceProcess {
  /** The registry directory, for clients to find the service. */
  registry: string;
  stop(): Promise<void>;
}

/** A slow-service process; `env` adds MICRO_* settings (load shedding, rates) and fixture options. */
export async function startSlow(env: Record<string, string> = {}, registry = tempRegistry()): Promise<Started> {
  const started = await startProcess(slowService, { MICRO_REGISTRY: "local", MICRO_REGISTRY_ADDRESS: registry, ...env }, 20_000);
  return {
    ...started,
    registry,
    stop: async () => {
      if (started.child.exitCode !== null) return;
      started.child.kill("SIGTERM");
      await started.exited;
    },
  };
}
