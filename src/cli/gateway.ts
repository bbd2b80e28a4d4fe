/**
 * `micro gateway [--address HOST:PORT]`: the HTTP API gateway (src/gateway) in front of every
 * service in the registry. It prints the address it listens on, and stops on SIGINT/SIGTERM
 * after the requests in flight end (streams are cut).
 */
import { parseArgs } from "node:util";
import { createGateway } from "../gateway/gateway.js";
import { parseCountFlag, parseDurationFlag } from "./flags.js";
import { programName } from "./usage.js";

export const GATEWAY_USAGE = `  gateway [--address host:port]         the HTTP API gateway (default :8080; MICRO_GATEWAY_ADDRESS):
                                        /api/{service}/{Handler}/{Method}, /openapi.json, /health
                                        (--cors origin,… --rate n/s --timeout 30s --body-limit bytes)`;

export async function gatewayCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      address: { type: "string" },
      cors: { type: "string" },
      rate: { type: "string" },
      timeout: { type: "string" },
      "body-limit": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`usage: ${programName}${GATEWAY_USAGE.replace(/^ {2}/, " ")}\n`);
    return 0;
  }
  const rate = parseCountFlag("rate", values.rate);
  const gateway = await createGateway({
    address: values.address ?? (process.env.MICRO_GATEWAY_ADDRESS || undefined),
    cors: values.cors ? { origins: values.cors === "*" ? "*" : values.cors.split(",").map((o) => o.trim()) } : undefined,
    rateLimit: rate ? { rate } : undefined,
    timeout: parseDurationFlag("timeout", values.timeout),
    bodyLimit: parseCountFlag("body-limit", values["body-limit"]),
  });
  process.stdout.write(`gateway listening on ${gateway.address} (${gateway.url})\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop).off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop).on("SIGTERM", stop);
  });
  await gateway.close();
  return 0;
}
