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
}

/** Runs `call` in `concurrency` closed loops: warm up, then measure for `seconds`. */
export async function closedLoop(call: () => Promise<unknown>, concurrency: number, warmupSeconds: number, seconds: number): Promise<Omit<LoadResult, "bench" | "framework" | "transport">> {
  let measuring = false;
  let stop = false;
  const latencies: number[] = [];
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const started = process.hrtime.bigint();
      try {
        await call();
      } catch {
        errors++;
      }
      if (measuring) latencies.push(Number(process.hrtime.bigint() - started) / 1_000);
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  await new Promise((r) => setTimeout(r, warmupSeconds * 1_000));
  measuring = true;
  const started = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1_000));
  measuring = false;
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const calls = latencies.length;
  stop = true;
  await Promise.all(workers);
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0);
  return { concurrency, rps: Math.round(calls / elapsed), p50_us: pct(0.5), p99_us: pct(0.99), calls, errors };
}
