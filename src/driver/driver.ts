/**
 * Plugins talk to servers through drivers that are optional peer dependencies, so a user who
 * never picks etcd needs no etcd3 installed. They are imported on first use, here.
 */

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
      throw new Error(`the ${user} needs the package ${specifier}: npm install ${specifier}`);
    }
    throw err;
  }
}

/** Runs `open` once; concurrent callers share it; a failure lets the next caller try again. */
export class Lazy<T> {
  private promise: Promise<T> | undefined;
  constructor(private readonly open: () => Promise<T>) {}

  get(): Promise<T> {
    return (this.promise ??= this.open().catch((err: unknown) => {
      this.promise = undefined;
      throw err;
    }));
  }

  /** The value if it was opened, without opening it. */
  peek(): Promise<T> | undefined {
    return this.promise;
  }

  /** Forgets the value: the next get() opens again. */
  reset(): void {
    this.promise = undefined;
  }
}
