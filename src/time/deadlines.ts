/**
 * Deadlines for many short-lived waits of the same length (a command's reply timeout): one
 * timer sweeps them, instead of a timer per command. Because every wait has the same length,
 * insertion order is deadline order, and a sweep stops at the first deadline still ahead.
 */
import { every, systemClock, type Clock } from './clock.js';

export interface Deadline {
  /** Forget the deadline (the wait ended in time). */
  clear(): void;
}

/** One wait: itself the handle its caller clears (one object per wait, no closures). */
class Wait implements Deadline {
  constructor(
    private readonly owner: Map<number, Wait>,
    private readonly id: number,
    readonly at: number,
    readonly fire: () => void,
  ) {}

  clear(): void {
    this.owner.delete(this.id);
  }
}

export class Deadlines {
  private readonly waits = new Map<number, Wait>();
  private readonly resolutionMs: number;
  private nextId = 0;
  private stopSweeping: (() => void) | undefined;

  /**
   * @param afterMs how long each wait may last
   * @param resolutionMs how late a deadline may fire at most
   * @param clock the time it runs on
   */
  constructor(
    private readonly afterMs: number,
    resolutionMs: number | undefined = undefined,
    private readonly clock: Clock = systemClock,
  ) {
    this.resolutionMs = resolutionMs ?? Math.min(1_000, Math.max(1, Math.floor(afterMs / 10)));
  }

  /** Call `fire` once `afterMs` has passed, unless cleared first. */
  add(fire: () => void): Deadline {
    const id = this.nextId++;
    const wait = new Wait(this.waits, id, this.clock.now() + this.afterMs, fire);
    this.waits.set(id, wait);
    this.arm();
    return wait;
  }

  get size(): number {
    return this.waits.size;
  }

  private arm(): void {
    if (this.stopSweeping) return;
    this.stopSweeping = every(this.clock, this.resolutionMs, () => this.sweep());
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [id, w] of this.waits) {
      if (w.at > now) break;
      this.waits.delete(id);
      w.fire();
    }
    if (this.waits.size === 0 && this.stopSweeping) {
      this.stopSweeping();
      this.stopSweeping = undefined;
    }
  }
}
