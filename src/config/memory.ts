/**
 * Config held in the process: defaults in code, tests, or values another part of the program
 * sets at run time (each set() is seen by the config's watchers, as a watched source's change).
 */
import { ConfigError, type ConfigObject, type SourceLog, type Unwatch, type WritableSource } from "./config.js";
import { assign, isObject, requireObject, splitPath } from "./tree.js";

export class MemorySource implements WritableSource {
  readonly name: string;
  private data: ConfigObject;
  private readonly listeners = new Set<() => void>();

  constructor(data: ConfigObject = {}, options: { name?: string } = {}) {
    this.data = requireObject(data, "memory source");
    this.name = options.name ?? "memory";
  }

  readNow(): ConfigObject {
    return this.data;
  }

  async read(): Promise<ConfigObject> {
    return this.data;
  }

  /** Replaces the whole tree. */
  update(data: ConfigObject): void {
    if (!isObject(data)) throw new ConfigError("memory source: update() takes an object");
    this.data = data;
    for (const listener of this.listeners) listener();
  }

  async set(path: string, value: unknown): Promise<void> {
    this.update(assign(this.data, splitPath(path), value));
  }

  async watch(changed: () => void, _log: SourceLog): Promise<Unwatch> {
    this.listeners.add(changed);
    return () => this.listeners.delete(changed);
  }
}

/** A source holding `data` (e.g. the defaults, loaded first so every other source overrides them). */
export function memory(data: ConfigObject = {}, options: { name?: string } = {}): MemorySource {
  return new MemorySource(data, options);
}
