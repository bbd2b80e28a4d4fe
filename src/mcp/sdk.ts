/**
 * The official MCP SDK (`@modelcontextprotocol/sdk`) is an optional peer dependency: a program
 * that never serves MCP installs nothing for it. It is imported on first use, here and nowhere
 * else, and a missing package fails with the command that installs it.
 */
import { MissingDriverError } from "../driver/driver.js";

export const SDK_PACKAGE = "@modelcontextprotocol/sdk";

/** The parts of the SDK the gateway uses. */
export interface Sdk {
  server: typeof import("@modelcontextprotocol/sdk/server/index.js");
  http: typeof import("@modelcontextprotocol/sdk/server/streamableHttp.js");
  types: typeof import("@modelcontextprotocol/sdk/types.js");
}

let loading: Promise<Sdk> | undefined;

/** Imports the SDK once; every caller shares the import. */
export function loadSdk(): Promise<Sdk> {
  loading ??= importSdk().catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

async function importSdk(): Promise<Sdk> {
  // Specifiers in variables, so that TypeScript and bundlers leave the imports lazy.
  const at = (path: string): string => `${SDK_PACKAGE}/${path}`;
  try {
    const [server, http, types] = await Promise.all([
      import(at("server/index.js")) as Promise<Sdk["server"]>,
      import(at("server/streamableHttp.js")) as Promise<Sdk["http"]>,
      import(at("types.js")) as Promise<Sdk["types"]>,
    ]);
    return { server, http, types };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && String((err as Error).message).includes(SDK_PACKAGE)) {
      throw new MissingDriverError(`the MCP gateway needs the package ${SDK_PACKAGE}: npm install ${SDK_PACKAGE}`);
    }
    throw err;
  }
}
