/**
 * Keyed reader/writer locks, so what nix cannot share is serialized: edits of one flake
 * directory (and regeneration of the workspace flake) are exclusive, while builds and checks
 * of the same flake run side by side.
 */

interface Waiter {
  exclusive: boolean;
  wake: () => void;
}

interface Entry {
  readers: number;
  writer: boolean;
  queue: Waiter[];
}

/** Reader/writer locks by key (first come, first served; a waiting writer blocks new readers). */
export class KeyedRwLock {
  private readonly entries = new Map<string, Entry>();

  /** Runs `fn` while holding the key shared (many at once). */
  shared<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.run(key, false, fn);
  }

  /** Runs `fn` while holding the key exclusively. */
  exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.run(key, true, fn);
  }

  private async run<T>(key: string, exclusive: boolean, fn: () => Promise<T>): Promise<T> {
    await this.acquire(key, exclusive);
    try {
      return await fn();
    } finally {
      this.release(key, exclusive);
    }
  }

  private entry(key: string): Entry {
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = { readers: 0, writer: false, queue: [] };
      this.entries.set(key, entry);
    }
    return entry;
  }

  private acquire(key: string, exclusive: boolean): Promise<void> {
    const entry = this.entry(key);
    const free = exclusive ? !entry.writer && entry.readers === 0 : !entry.writer && entry.queue.length === 0;
    if (free && entry.queue.length === 0) {
      if (exclusive) entry.writer = true;
      else entry.readers++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => entry.queue.push({ exclusive, wake: resolve }));
  }

  private release(key: string, exclusive: boolean): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    if (exclusive) entry.writer = false;
    else entry.readers--;
    while (entry.queue.length > 0 && !entry.writer) {
      const head = entry.queue[0] as Waiter;
      if (head.exclusive) {
        if (entry.readers > 0) break;
        entry.writer = true;
      } else {
        entry.readers++;
      }
      entry.queue.shift();
      head.wake();
    }
    if (!entry.writer && entry.readers === 0 && entry.queue.length === 0) this.entries.delete(key);
  }
}
