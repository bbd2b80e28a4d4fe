/**
 * The spans a test/fixtures/traced-service process recorded: it prints them as one
 * "SPANS <json>" line on SIGTERM, on its way out.
 */
import type { ServiceProcess } from "../process/harness.js";
import { until } from "./wait.js";

export interface SpanRecord {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
  status: number;
}

/** SIGTERM, then the spans the process printed on its way out. */
export async function spansOf(process: ServiceProcess): Promise<SpanRecord[]> {
  process.child.kill("SIGTERM");
  await until(
    () => /SPANS .*\n/.test(process.output()),
    10_000,
    () => `no SPANS line; output:\n${process.output()}`,
  );
  const line = /SPANS (.*)\n/.exec(process.output())![1];
  return JSON.parse(line) as SpanRecord[];
}
