/**
 * `micro gen proto <file.proto…> [--out file.ts] [--import ts-micro]`: TypeScript types for the
 * messages and services of `.proto` files (see src/grpc/typegen.ts), printed or written to --out.
 */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { protoToTypeScript } from "../grpc/typegen.js";
import { UsageError } from "./usage.js";

export const GEN_USAGE = `  gen proto <file.proto…>              TypeScript types for a .proto's messages and a handler
                                        interface per service (docs/grpc.md); printed, or
       --out <file.ts>                  written to this file
       --import <module>                where Context is imported from (default ts-micro)`;

export async function genCommand(argv: string[]): Promise<number> {
  const [kind, ...rest] = argv;
  if (kind !== "proto") throw new UsageError(`gen needs proto, not ${JSON.stringify(kind ?? "")}`);
  const { values, positionals } = parseArgs({ args: rest, options: { out: { type: "string" }, import: { type: "string" } }, allowPositionals: true });
  if (positionals.length === 0) throw new UsageError("gen proto needs at least one .proto file");
  const source = protoToTypeScript(positionals, { importFrom: values.import });
  if (values.out) fs.writeFileSync(values.out, source);
  else process.stdout.write(source);
  return 0;
}
