/**
 * The clock the cluster layer reads and arms its timers on. It has the shape of XState's
 * `Clock` plus `now()`, so XState's `SimulatedClock` fits as is and unit tests advance virtual
 * time instead of faking timers. The cluster logic never reads `Date.now()` nor calls
 * `setTimeout` itself: every lease, heartbeat and deadline goes through this.
 */

/** A monotonic clock with timers (milliseconds). `SimulatedClock` from 'xstate' is one. */
export interface ClusterClock {
  /** Monotonic milliseconds; only differences matter (never compared across machines). */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The real clock: `performance.now()` (monotonic, unaffected by wall-clock steps, and it keeps
 * running while the process is stopped by SIGSTOP, which is what self-fencing needs) and
 * unref'd timers, so a running cluster never keeps the process alive on its own.
 */
export const realClock: ClusterClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
