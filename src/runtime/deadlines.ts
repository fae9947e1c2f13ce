/**
 * Deadlines for many short-lived waits of the same length (a command's reply timeout): one
 * timer sweeps them, instead of a timer per command. Because every wait has the same length,
 * insertion order is deadline order, and a sweep stops at the first deadline still ahead.
 */
export interface Deadline {
  /** Forget the deadline (the wait ended in time). */
  clear(): void;
}

export class Deadlines {
  private readonly waits = new Map<number, { at: number; fire: () => void }>();
  private nextId = 0;
  private timer: NodeJS.Timeout | undefined;

  /** @param afterMs how long each wait may last; @param resolutionMs how late a deadline may fire at most */
  constructor(
    private readonly afterMs: number,
    private readonly resolutionMs = Math.min(1_000, Math.max(1, Math.floor(afterMs / 10))),
  ) {}

  /** Call `fire` once `afterMs` has passed, unless cleared first. */
  add(fire: () => void): Deadline {
    const id = this.nextId++;
    this.waits.set(id, { at: Date.now() + this.afterMs, fire });
    this.arm();
    return { clear: () => this.waits.delete(id) };
  }

  get size(): number {
    return this.waits.size;
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(), this.resolutionMs);
    this.timer.unref();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, w] of this.waits) {
      if (w.at > now) break;
      this.waits.delete(id);
      w.fire();
    }
    if (this.waits.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
