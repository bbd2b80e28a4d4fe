/** The payload every RPC benchmark sends (the same as the peer comparison). */
export const PAYLOAD = { id: 42, name: "hello", tags: ["a", "b"], ok: true };

export interface LoadResult {
  bench: string;
  framework: string;
  transport: string;
  concurrency: number;
  rps: number;
  p50_us: number;
  p99_us: number;
  calls: number;
  errors: number;
  /** The load process's CPU time (user + system) per measured call, in µs. */
  client_cpu_us?: number;
}

/**
 * Runs `call` in `concurrency` closed loops: warm up, then measure for `seconds`. The loop itself
 * allocates nothing per call (performance.now() and a preallocated, growable Float64Array), so the
 * load generator's own garbage does not weigh on the framework being measured.
 */
export async function closedLoop(
  call: () => Promise<unknown>,
  concurrency: number,
  warmupSeconds: number,
  seconds: number,
): Promise<Omit<LoadResult, "bench" | "framework" | "transport">> {
  let measuring = false;
  let stop = false;
  let latencies = new Float64Array(1 << 20);
  let calls = 0;
  let errors = 0;
  const record = (micros: number): void => {
    if (calls === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[calls++] = micros;
  };
  const worker = async (): Promise<void> => {
    while (!stop) {
      const started = performance.now();
      try {
        await call();
      } catch {
        errors++;
      }
      if (measuring) record((performance.now() - started) * 1_000);
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  await new Promise((r) => setTimeout(r, warmupSeconds * 1_000));
  measuring = true;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await new Promise((r) => setTimeout(r, seconds * 1_000));
  measuring = false;
  const cpu = process.cpuUsage(cpuBefore);
  const elapsed = (performance.now() - started) / 1_000;
  const measured = calls;
  stop = true;
  await Promise.all(workers);
  const sorted = latencies.subarray(0, measured).sort();
  const pct = (p: number): number => Math.round(sorted[Math.min(measured - 1, Math.floor(measured * p))] ?? 0);
  const clientCpu = Math.round(((cpu.user + cpu.system) / Math.max(1, measured)) * 10) / 10;
  return { concurrency, rps: Math.round(measured / elapsed), p50_us: pct(0.5), p99_us: pct(0.99), calls: measured, errors, client_cpu_us: clientCpu };
}
