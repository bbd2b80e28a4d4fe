import { cloneService } from "./records.js";
import type { ServiceRecord, WatchAction, WatchOptions } from "./registry.js";
import { WatchQueue } from "./watch-queue.js";

/**
 * A registry's open watchers and the one way events reach them: each watcher gets its own copy
 * of every event for the service it asked for (or for all, when it named none). A watcher leaves
 * the set when it is stopped.
 */
export class WatcherSet {
  private readonly watchers = new Set<{ queue: WatchQueue; service?: string }>();

  /** `onLastStop` runs when a stop leaves the set empty (to release what only watchers need). */
  constructor(private readonly onLastStop: () => void = () => {}) {}

  /** A new watcher; `onStop` runs once when it is stopped. */
  add(options: WatchOptions = {}, onStop: () => void = () => {}): WatchQueue {
    const watcher = { queue: undefined as unknown as WatchQueue, service: options.service };
    watcher.queue = new WatchQueue(() => {
      this.watchers.delete(watcher);
      onStop();
      if (this.watchers.size === 0) this.onLastStop();
    });
    this.watchers.add(watcher);
    return watcher.queue;
  }

  /** Tells every watcher of `service.name` (a copy each, so none can change what another sees). */
  emit(action: WatchAction, service: ServiceRecord): void {
    for (const watcher of this.watchers) {
      if (watcher.service && watcher.service !== service.name) continue;
      watcher.queue.push({ action, service: cloneService(service) });
    }
  }

  /** Ends every watcher (their consumers see the end of the stream). */
  stopAll(): void {
    for (const watcher of [...this.watchers]) watcher.queue.stop();
  }

  /** How many watchers are open. */
  get size(): number {
    return this.watchers.size;
  }
}
