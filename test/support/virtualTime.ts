/**
 * Virtual time for unit tests of the runtime core: XState's `SimulatedClock`, advanced in
 * steps with the promise jobs of each step run before the next, so code that awaits between
 * timers (a retry after a back-off, a store that answers later) behaves as in real time.
 */
import { SimulatedClock } from 'xstate';

/** Let every pending promise job (and their follow-ups) run. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A simulated clock with `advance(ms)`: time moves `step` ms at a time, promise jobs run in between. */
export class VirtualClock extends SimulatedClock {
  async advance(ms: number, step = 1): Promise<void> {
    for (let passed = 0; passed < ms; passed += step) {
      this.increment(Math.min(step, ms - passed));
      await settle(3);
    }
    await settle();
  }
}
