/**
 * Calls back when a file under a directory changes, debounced: a save that touches several files
 * (or an editor's write-rename dance) is one change. One fs.watch per directory rather than a
 * recursive one, so ignored directories (node_modules, dist, dot-directories) cost nothing: on
 * Linux a recursive watch would put an inotify watch on every directory of node_modules.
 */
import fs from "node:fs";
import path from "node:path";
import { isIgnoredDir } from "./project.js";

export interface TreeWatch {
  close(): void;
}

/**
 * Quiet time after the last event before a change counts: an editor's save (write, rename, chmod)
 * comes within a few ms, a formatter run on save or a `git checkout` within tens; more would only
 * delay every restart.
 */
const DEBOUNCE_MS = 100;

export function watchTree(root: string, onChange: (file: string) => void, debounceMs = DEBOUNCE_MS): TreeWatch {
  const watchers = new Map<string, fs.FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let changed = "";
  let closed = false;

  const add = (dir: string): void => {
    if (closed || watchers.has(dir)) return;
    let watcher: fs.FSWatcher;
    try {
      watcher = fs.watch(dir, (_event, filename) => onEvent(dir, filename?.toString()));
    } catch {
      return; // Removed before we got to it.
    }
    watcher.on("error", () => {
      watcher.close();
      watchers.delete(dir);
    });
    watchers.set(dir, watcher);
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) if (entry.isDirectory() && !isIgnoredDir(entry.name)) add(path.join(dir, entry.name));
  };

  const onEvent = (dir: string, filename: string | undefined): void => {
    if (!filename || filename.startsWith(".") || filename.endsWith("~")) return;
    const file = path.join(dir, filename);
    // A new directory is watched too (its files may already be there: the change covers them).
    if (!isIgnoredDir(filename) && fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) add(file);
    if (isIgnoredDir(filename)) return;
    changed = path.relative(root, file);
    clearTimeout(timer);
    timer = setTimeout(() => onChange(changed), debounceMs);
  };

  add(root);
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
