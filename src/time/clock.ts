/**
 * Time as the runtime sees it. Nothing in the runtime reads `Date.now()` or arms a timer by
 * itself: it asks a {@link Clock}, so tests run it in virtual time with XState's
 * `SimulatedClock` (which has this very shape) and advance time instead of waiting.
 */

/** A handle of a timer armed on a clock. */
export type TimerHandle = unknown;

/** XState's `Clock` plus `now()`: what `SimulatedClock` from 'xstate' implements. */
export interface Clock {
  /** Milliseconds on this clock (only differences mean something). */
  now(): number;
  setTimeout(fn: (...args: unknown[]) => void, timeout: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The process's clock: wall time, and timers that never keep the process alive by themselves. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, timeout) => {
    const t = setTimeout(fn, timeout);
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Runs `fn` every `ms` on `clock` until the returned stop is called. */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let handle: TimerHandle;
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    fn();
    if (!stopped) handle = clock.setTimeout(tick, ms);
  };
  handle = clock.setTimeout(tick, ms);
  return () => {
    stopped = true;
    clock.clearTimeout(handle);
  };
}

/** Resolves after `ms` on `clock` (at once for 0). */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0) resolve();
    else clock.setTimeout(() => resolve(), ms);
  });
}

/**
 * The one back-off of the service: exponential with full jitter and a cap (as nats.js and
 * the reconnection supervisor do it). Attempt n (1-based) waits a uniform time in
 * `[0, min(maxMs, initialMs × factor^(n−1))]`; `random` is injectable for tests.
 */
export interface Backoff {
  /** The wait before attempt `attempt` (1 = the first retry). */
  delay(attempt: number): number;
}

export function backoff(options: { initialMs: number; maxMs: number; factor?: number; jitter?: boolean; random?: () => number }): Backoff {
  const factor = options.factor ?? 2;
  const random = options.random ?? Math.random;
  return {
    delay(attempt: number): number {
      const ceiling = Math.min(options.maxMs, options.initialMs * factor ** Math.max(0, attempt - 1));
      return options.jitter === false ? ceiling : random() * ceiling;
    },
  };
}
