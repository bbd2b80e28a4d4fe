/**
 * Plugins talk to servers through drivers that are optional peer dependencies, so a user who
 * never picks etcd needs no etcd3 installed. They are imported on first use, here and nowhere else.
 * A plugin opens its connection on first use too (./lazy.ts); NATS plugins share ./nats.ts.
 * Node's own modules that only some plugins need (node:zlib, node:dgram) load on first use too.
 */
import { createRequire } from "node:module";

/** An optional driver that is not installed: the message says what to install. */
export class MissingDriverError extends Error {
  override name = "MissingDriverError";
}

/**
 * Imports an optional driver, or fails with the command that installs it (`user` names the
 * plugin, e.g. "etcd registry"). The specifier is a variable, so TypeScript and bundlers leave
 * the import lazy.
 */
export async function loadDriver<T>(specifier: string, user: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && String((err as Error).message).includes(specifier)) {
      throw new MissingDriverError(`the ${user} needs the package ${specifier}: npm install ${specifier}`);
    }
    throw err;
  }
}

const requireModule = createRequire(import.meta.url);

/**
 * Loads an optional package synchronously (its CommonJS build), or fails as loadDriver does: for
 * what a constructor must set up at once, such as the metrics and tracing wrappers of a service.
 */
export function requireDriver<T>(specifier: string, user: string): T {
  try {
    return requireModule(specifier) as T;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "MODULE_NOT_FOUND" && String((err as Error).message).includes(specifier)) {
      throw new MissingDriverError(`the ${user} needs the package ${specifier}: npm install ${specifier}`);
    }
    throw err;
  }
}

/**
 * A Node built-in module, loaded on its first use (once; synchronously). For the modules only a
 * plugin off the default path needs, such as the mDNS registry's node:dgram and node:zlib: a
 * static import would load them in every service (the package entry is one bundle), at a few
 * milliseconds and a few hundred KB each.
 */
export function builtin<T>(specifier: `node:${string}`): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= requireModule(specifier) as T;
    return loaded;
  };
}
