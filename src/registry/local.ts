/**
 * The zero-config default registry: host-wide, across processes, with no server. Every node is one
 * JSON file in a directory private to the user; readers list the directory, and watchers combine
 * inotify (fs.watch) with a periodic rescan. No multicast, so it works in containers, WSL and VPNs.
 *
 * A record is `{ service, expiresAt, pid, pidNamespace, host }` where `service` carries exactly one
 * node. Expired records are ignored and deleted by whoever notices them; so are records of a
 * process that is gone from this host (checked with `kill(pid, 0)`), so a `kill -9`ed node vanishes
 * at once instead of after its TTL.
 */
import fs, { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash, newId } from "../driver/crypto.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import { mergeServices, withNodes } from "./records.js";
import {
  DEFAULT_REGISTER_TTL,
  type Endpoint,
  type Node,
  type RegisterOptions,
  type Registry,
  type ServiceRecord,
  type WatchAction,
  type Watcher,
  type WatchOptions,
} from "./registry.js";
import { WatcherSet } from "./watchers.js";

export interface LocalRegistryOptions {
  /** Directory holding the records. Default: {@link defaultLocalRegistryPath}. */
  path?: string;
  /**
   * Treat a record whose process is gone as deregistered (only for records written on this host
   * in our pid namespace; everything else waits for its TTL). Default: true.
   */
  checkPid?: boolean;
  /** Milliseconds between a watcher's rescans, which notice expiries and missed notifications. Default: 1000. */
  rescanInterval?: number;
  /** Where failed directory scans are logged. Default: the process logger. */
  logger?: Logger;
}

/** What one node's file holds. */
export interface LocalRecord {
  service: ServiceRecord;
  expiresAt: number;
  pid: number;
  pidNamespace: string;
  host: string;
}

const DIR_MODE = 0o700;
const FILE_SUFFIX = ".json";
const TEMP_PREFIX = ".tmp-";
/** A temp file older than this was left by a writer that died mid-write. */
const STALE_TEMP_MS = 60_000;

/**
 * `$XDG_RUNTIME_DIR/micro/registry` when that directory is set and writable (it is per-user and
 * cleared at logout), else `<tmpdir>/micro-<uid>/registry`.
 */
export function defaultLocalRegistryPath(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && isWritableDir(runtime)) return path.join(runtime, "micro", "registry");
  const user = process.getuid?.() ?? os.userInfo().username;
  return path.join(os.tmpdir(), `micro-${user}`, "registry");
}

export class LocalRegistry implements Registry {
  readonly name = "local";
  /** The directory holding the records. */
  readonly path: string;
  private readonly checkPid: boolean;
  private readonly rescanInterval: number;
  private readonly log: Logger;
  /** The directory is watched only while someone watches the registry. */
  private readonly watchers = new WatcherSet(() => {
    this.directoryWatch?.stop();
    this.directoryWatch = undefined;
  });
  private directoryWatch: DirectoryWatch | undefined;

  constructor(options: LocalRegistryOptions = {}) {
    this.path = path.resolve(options.path ?? defaultLocalRegistryPath());
    this.checkPid = options.checkPid ?? true;
    this.rescanInterval = options.rescanInterval ?? 1_000;
    this.log = options.logger ?? defaultLogger();
    fs.mkdirSync(this.path, { recursive: true, mode: DIR_MODE });
    // Whoever can write to the directory can forge records and route our calls to their
    // addresses (in a shared /tmp another user could even have created our default directory
    // first): refuse a directory that is not ours alone, wherever its path came from. The default
    // one's parent (`micro-<uid>`) is ours too; a given directory's parent may be anyone's.
    assertPrivate(options.path ? [fs.realpathSync(this.path)] : [this.path, path.dirname(this.path)]);
  }

  async register(service: ServiceRecord, options: RegisterOptions = {}): Promise<void> {
    const expiresAt = Date.now() + (options.ttl ?? DEFAULT_REGISTER_TTL);
    // Recreate the directory if someone removed it, so a heartbeat repairs the registration.
    await fsp.mkdir(this.path, { recursive: true, mode: DIR_MODE });
    await Promise.all(
      service.nodes.map((node) =>
        this.writeRecord(fileName(service.name, node.id), {
          service: withNodes(service, [node]),
          expiresAt,
          pid: process.pid,
          ...processSpace(),
        }),
      ),
    );
  }

  async deregister(service: ServiceRecord): Promise<void> {
    await Promise.all(service.nodes.map((node) => removeFile(path.join(this.path, fileName(service.name, node.id)))));
  }

  async getService(name: string): Promise<ServiceRecord[]> {
    const records = await this.readLiveRecords(filePrefix(name));
    return merge(records.filter((record) => record.service.name === name));
  }

  async listServices(): Promise<ServiceRecord[]> {
    return merge(await this.readLiveRecords());
  }

  watch(options: WatchOptions = {}): Watcher {
    this.directoryWatch ??= new DirectoryWatch(this.path, this.rescanInterval, {
      isLive: (record, now) => this.isLive(record, now),
      reap: (file, ino) => void reapFile(path.join(this.path, file), ino),
      emit: (action, service) => this.watchers.emit(action, service),
      log: this.log,
    });
    return this.watchers.add(options);
  }

  async close(): Promise<void> {
    this.watchers.stopAll();
  }

  /** Reads the records whose file names start with `prefix`, deleting the dead ones on the way. */
  private async readLiveRecords(prefix = ""): Promise<LocalRecord[]> {
    const files = (await listDir(this.path)).filter((file) => file.startsWith(prefix) && file.endsWith(FILE_SUFFIX));
    const read = await Promise.all(files.map((file) => readRecordFile(path.join(this.path, file))));
    const now = Date.now();
    const live: LocalRecord[] = [];
    read.forEach((entry, i) => {
      if (!entry?.record) return;
      if (this.isLive(entry.record, now)) live.push(entry.record);
      else void reapFile(path.join(this.path, files[i]), entry.ino);
    });
    return live;
  }

  private isLive(record: LocalRecord, now: number): boolean {
    if (record.expiresAt <= now) return false;
    if (!this.checkPid || !inOurProcessSpace(record)) return true;
    return processExists(record.pid);
  }

  /** Writes atomically: a reader sees the old file or the new one, never half of one. */
  private async writeRecord(file: string, record: LocalRecord): Promise<void> {
    const temp = path.join(this.path, `${TEMP_PREFIX}${process.pid}-${newId()}`);
    try {
      await fsp.writeFile(temp, JSON.stringify(record), { mode: 0o600 });
      await fsp.rename(temp, path.join(this.path, file));
    } catch (err) {
      await fsp.rm(temp, { force: true });
      throw err;
    }
  }
}

/** Groups one-node records into services per (name, version); the newest record's endpoints win. */
function merge(records: LocalRecord[]): ServiceRecord[] {
  return mergeServices(records.sort((a, b) => a.expiresAt - b.expiresAt).map((record) => record.service));
}

// ---------------------------------------------------------------------------------------------
// The shared directory watcher

interface FileState {
  ino: number;
  mtimeMs: number;
  size: number;
  /** undefined for a file that is not a valid record. */
  record: LocalRecord | undefined;
}

interface LiveRecord {
  record: LocalRecord;
  /** The record without `expiresAt`: a heartbeat leaves it unchanged and so emits nothing. */
  content: string;
}

interface DirectoryWatchHooks {
  isLive(record: LocalRecord, now: number): boolean;
  reap(file: string, ino: number): void;
  emit(action: WatchAction, service: ServiceRecord): void;
  log: Logger;
}

/**
 * One fs.watch plus one rescan timer per LocalRegistry, shared by all its watchers. Each scan
 * diffs the live records against the previous scan and emits create, update and delete.
 */
class DirectoryWatch {
  private files = new Map<string, FileState>();
  private live = new Map<string, LiveRecord>();
  private fsWatcher: fs.FSWatcher | undefined;
  private readonly timer: NodeJS.Timeout;
  private scanning = false;
  private rescanRequested = false;
  private stopped = false;

  constructor(
    private readonly dir: string,
    rescanInterval: number,
    private readonly hooks: DirectoryWatchHooks,
  ) {
    // The baseline is read synchronously so that a registration made right after watch()
    // returns is seen as a change, not as part of the baseline.
    this.files = this.readAllSync();
    this.live = this.liveRecords(Date.now());
    this.openFsWatcher();
    this.timer = setInterval(() => this.onTick(), rescanInterval).unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.fsWatcher?.close();
    this.fsWatcher = undefined;
  }

  private onTick(): void {
    if (!this.fsWatcher) this.openFsWatcher(); // the directory may be back after a removal
    this.requestScan();
  }

  private openFsWatcher(): void {
    try {
      const watcher = fs.watch(this.dir, { persistent: false }, () => this.requestScan());
      watcher.on("error", () => {
        watcher.close();
        if (this.fsWatcher === watcher) this.fsWatcher = undefined;
      });
      this.fsWatcher = watcher;
    } catch {
      this.fsWatcher = undefined; // the rescan timer still notices changes, only later
    }
  }

  /** Scans now, or once more after the scan in progress, so bursts of notifications coalesce. */
  private requestScan(): void {
    if (this.stopped) return;
    if (this.scanning) {
      this.rescanRequested = true;
      return;
    }
    this.scanning = true;
    void this.scanLoop();
  }

  private async scanLoop(): Promise<void> {
    try {
      do {
        this.rescanRequested = false;
        await this.scan();
      } while (this.rescanRequested && !this.stopped);
    } catch (err) {
      this.hooks.log.debug("local registry: scan failed", { dir: this.dir, error: String(err) });
    } finally {
      this.scanning = false;
    }
  }

  private async scan(): Promise<void> {
    const names = await listDir(this.dir);
    const states = await Promise.all(names.map((file) => this.readChanged(file)));
    if (this.stopped) return;
    const files = new Map<string, FileState>();
    for (let i = 0; i < states.length; i++) {
      const state = states[i];
      if (state) files.set(names[i], state);
    }
    this.files = files;
    this.diff(this.liveRecords(Date.now()));
  }

  /** A file's state, re-reading it only if it was replaced since the last scan. */
  private async readChanged(file: string): Promise<FileState | undefined> {
    const full = path.join(this.dir, file);
    if (file.startsWith(TEMP_PREFIX)) {
      await removeStaleTemp(full);
      return undefined;
    }
    if (!file.endsWith(FILE_SUFFIX)) return undefined;
    const stat = await fsp.stat(full).catch(() => undefined);
    if (!stat) return undefined;
    const known = this.files.get(file);
    if (known && known.ino === stat.ino && known.mtimeMs === stat.mtimeMs && known.size === stat.size) return known;
    const read = await readRecordFile(full);
    return read && { ino: read.ino, mtimeMs: read.mtimeMs, size: read.size, record: read.record };
  }

  private readAllSync(): Map<string, FileState> {
    const files = new Map<string, FileState>();
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return files;
    }
    for (const file of names) {
      if (!file.endsWith(FILE_SUFFIX) || file.startsWith(TEMP_PREFIX)) continue;
      try {
        const full = path.join(this.dir, file);
        const stat = fs.statSync(full);
        const record = parseRecord(fs.readFileSync(full, "utf8"));
        files.set(file, { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size, record });
      } catch {
        // removed while we listed: not part of the baseline
      }
    }
    return files;
  }

  /** The valid, unexpired records of living processes; dead ones are deleted. */
  private liveRecords(now: number): Map<string, LiveRecord> {
    const live = new Map<string, LiveRecord>();
    for (const [file, state] of this.files) {
      const record = state.record;
      if (!record) continue;
      if (!this.hooks.isLive(record, now)) {
        this.hooks.reap(file, state.ino);
        continue;
      }
      const previous = this.live.get(file);
      const content = previous?.record === record ? previous.content : JSON.stringify(record.service);
      live.set(file, { record, content });
    }
    return live;
  }

  private diff(next: Map<string, LiveRecord>): void {
    const previous = this.live;
    this.live = next;
    for (const [file, { record, content }] of next) {
      const before = previous.get(file);
      if (!before) this.hooks.emit("create", record.service);
      else if (before.content !== content) this.hooks.emit("update", record.service);
    }
    for (const [file, { record }] of previous) {
      if (!next.has(file)) this.hooks.emit("delete", record.service);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Files

/** `<service>~<node id>.json`, each part URI-encoded (and `~` too, so the separator is unique). */
function fileName(service: string, nodeId: string): string {
  return `${filePrefix(service)}${encodePart(nodeId)}${FILE_SUFFIX}`;
}

function filePrefix(service: string): string {
  return `${encodePart(service)}~`;
}

/** Long parts are hashed so a file name stays under the usual 255-byte limit. */
function encodePart(part: string): string {
  const encoded = encodeURIComponent(part).replaceAll("~", "%7E");
  if (encoded.length <= 120) return encoded;
  // "=" never appears in encodeURIComponent's output, so a hashed part can't equal a plain one.
  return `=${createHash("sha256").update(part).digest("hex")}`;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (err) {
    if (errorCode(err) === "ENOENT") return [];
    throw err;
  }
}

interface ReadFile {
  ino: number;
  mtimeMs: number;
  size: number;
  record: LocalRecord | undefined;
}

/** Reads one file; undefined if it vanished, `record` undefined if it is not a valid record. */
async function readRecordFile(file: string): Promise<ReadFile | undefined> {
  try {
    // stat before reading: if the file is replaced in between we hold the old inode with the new
    // content, and reapFile() then refuses to delete a file it did not read.
    const stat = await fsp.stat(file);
    const text = await fsp.readFile(file, "utf8");
    return { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size, record: parseRecord(text) };
  } catch {
    return undefined;
  }
}

/**
 * Deletes a dead record, unless it has been replaced since it was read (its owner re-registered
 * just now). Best effort: another reader may win the race, which is fine.
 */
async function reapFile(file: string, ino: number): Promise<void> {
  try {
    const stat = await fsp.lstat(file);
    if (stat.ino === ino) await fsp.unlink(file);
  } catch {
    // already gone
  }
}

async function removeFile(file: string): Promise<void> {
  await fsp.rm(file, { force: true });
}

async function removeStaleTemp(file: string): Promise<void> {
  try {
    const stat = await fsp.stat(file);
    if (Date.now() - stat.mtimeMs > STALE_TEMP_MS) await fsp.unlink(file);
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing: anything in the directory may be garbage; a bad file is skipped, never fatal.

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseRecord(text: string): LocalRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(value)) return undefined;
  const service = parseService(value.service);
  const { expiresAt, pid, pidNamespace, host } = value;
  if (service?.nodes.length !== 1) return undefined;
  if (typeof expiresAt !== "number" || !Number.isInteger(pid) || (pid as number) <= 0) return undefined;
  return {
    service,
    expiresAt,
    pid: pid as number,
    pidNamespace: typeof pidNamespace === "string" ? pidNamespace : "",
    host: typeof host === "string" ? host : "",
  };
}

function parseService(value: unknown): ServiceRecord | undefined {
  if (!isObject(value) || typeof value.name !== "string" || typeof value.version !== "string") return undefined;
  if (!Array.isArray(value.nodes) || !value.nodes.every(isNode)) return undefined;
  if (value.endpoints != null && !Array.isArray(value.endpoints)) return undefined;
  return {
    name: value.name,
    version: value.version,
    metadata: (value.metadata as Record<string, string> | undefined) ?? null,
    endpoints: (value.endpoints as Endpoint[] | undefined) ?? null,
    nodes: value.nodes.map((node: Node) => ({ ...node, metadata: node.metadata ?? null })),
  };
}

function isNode(value: unknown): value is Node {
  return isObject(value) && typeof value.id === "string" && typeof value.address === "string";
}

// ---------------------------------------------------------------------------------------------
// Processes

let ourProcessSpace: { host: string; pidNamespace: string } | undefined;

/**
 * Where our pids mean something: this host and our pid namespace (`pid:[4026531836]`, or "" where
 * there is no /proc). Read once; neither changes under a running process in practice.
 */
function processSpace(): { host: string; pidNamespace: string } {
  if (!ourProcessSpace) {
    let pidNamespace = "";
    try {
      pidNamespace = fs.readlinkSync("/proc/self/ns/pid");
    } catch {
      // not Linux: the host name alone has to do
    }
    ourProcessSpace = { host: os.hostname(), pidNamespace };
  }
  return ourProcessSpace;
}

/**
 * Whether the record's pid means the same process to us. The host name guards against a directory
 * shared between machines, whose initial pid namespaces all have the same inode number.
 */
function inOurProcessSpace(record: LocalRecord): boolean {
  const ours = processSpace();
  return record.host === ours.host && record.pidNamespace === ours.pidNamespace;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) !== "ESRCH"; // EPERM: alive, but someone else's
  }
}

function errorCode(err: unknown): string | undefined {
  return isObject(err) && typeof err.code === "string" ? err.code : undefined;
}

function isWritableDir(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function assertPrivate(dirs: string[]): void {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  for (const dir of dirs) {
    const stat = fs.lstatSync(dir);
    const problem = !stat.isDirectory()
      ? "is not a directory"
      : stat.uid !== uid
        ? `is owned by uid ${stat.uid}, not by this process's uid ${uid}`
        : (stat.mode & 0o022) !== 0
          ? `is writable by other users (mode ${(stat.mode & 0o777).toString(8).padStart(4, "0")}), who could forge records`
          : undefined;
    if (problem) {
      throw new Error(
        `local registry: ${dir} ${problem}; use a directory only this user can write to (e.g. chmod 700 it), or set MICRO_REGISTRY_ADDRESS to another one`,
      );
    }
  }
}
