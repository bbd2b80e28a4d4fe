/**
 * A config file: JSON, YAML or TOML, chosen by extension. Watched through its directory, so a
 * change is seen however it is written: in place, or by writing a temporary file and renaming it
 * over the old one (as most editors and config management tools do), which a watch on the file
 * itself would lose. Bursts of events are debounced into one read.
 */
import fs from "node:fs";
import path from "node:path";
import { ConfigError, type ConfigObject, type Source, type SourceLog, type Unwatch } from "./config.js";
import { type ConfigFormat, formatOf, parseDocument } from "./formats.js";

/** Largest config file read by default (bytes): a bigger one is a mistake, not config. */
export const DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024;

export interface FileSourceOptions {
  /** The format when the extension does not say (`json`, `yaml`, `toml`). */
  format?: ConfigFormat;
  /** A file that does not exist (or cannot be read) at start counts as empty; its later creation is seen. Default false. */
  optional?: boolean;
  /** Files larger than this are refused. Default 4 MiB. */
  maxBytes?: number;
  /** Milliseconds of quiet after a change before the file is read again. Default 50. */
  debounce?: number;
}

export class FileSource implements Source {
  readonly name: string;
  readonly path: string;
  readonly optional: boolean;
  private readonly format: ConfigFormat;

  constructor(
    file: string,
    private readonly options: FileSourceOptions = {},
  ) {
    this.path = path.resolve(file);
    this.name = `file:${this.path}`;
    this.optional = options.optional ?? false;
    const format = options.format ?? formatOf(file);
    if (!format) throw new ConfigError(`config file ${file}: unknown format; name it .json, .yaml, .yml or .toml, or pass the format option`);
    this.format = format;
  }

  async read(): Promise<ConfigObject | undefined> {
    const text = await this.readText();
    return text === undefined ? undefined : parseDocument(text, this.format, `config file ${this.path}`);
  }

  private async readText(): Promise<string | undefined> {
    const limit = this.options.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
    let handle: fs.promises.FileHandle | undefined;
    try {
      handle = await fs.promises.open(this.path, "r");
      const { size, isFile } = await handle.stat().then((s) => ({ size: s.size, isFile: s.isFile() }));
      if (!isFile) throw new ConfigError(`config file ${this.path} is not a regular file`);
      if (size > limit) throw new ConfigError(`config file ${this.path} is ${size} bytes, more than the limit of ${limit} (maxBytes)`);
      return await handle.readFile("utf8");
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && this.optional) return undefined;
      throw new ConfigError(`cannot read config file ${this.path}: ${code ?? (err as Error).message}`);
    } finally {
      await handle?.close();
    }
  }

  async watch(changed: () => void, log: SourceLog): Promise<Unwatch> {
    const directory = path.dirname(this.path);
    const base = path.basename(this.path);
    const wait = this.options.debounce ?? 50;
    let timer: NodeJS.Timeout | undefined;
    let watcher: fs.FSWatcher;
    try {
      watcher = fs.watch(directory, { persistent: false }, (_event, name) => {
        if (name !== null && name !== base) return;
        clearTimeout(timer);
        timer = setTimeout(changed, wait);
      });
    } catch (err) {
      if (!this.optional) throw new ConfigError(`cannot watch config file ${this.path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
      log.warn("config file's directory cannot be watched; changes will not be seen", { file: this.path });
      return () => {};
    }
    watcher.on("error", (err) => log.warn("config file watch failed; changes will not be seen", { file: this.path, err: err.message }));
    return () => {
      clearTimeout(timer);
      watcher.close();
    };
  }
}

/** A config file (JSON, YAML or TOML by extension), watched for changes; see FileSourceOptions. */
export function file(path: string, options: FileSourceOptions = {}): FileSource {
  return new FileSource(path, options);
}
