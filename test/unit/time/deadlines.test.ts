import { describe, expect, it } from 'vitest';
import { Deadlines } from '../../../src/time/deadlines.js';
import { VirtualClock } from '../../support/virtualTime.js';

describe('deadlines', () => {
  it('fires each wait once its time has passed, within the resolution, and never a cleared one', async () => {
    const clock = new VirtualClock();
    const d = new Deadlines(1_000, 100, clock);
    const fired: string[] = [];
    d.add(() => fired.push('a'));
    const b = d.add(() => fired.push('b'));
    await clock.advance(500);
    d.add(() => fired.push('c'));
    b.clear();
    await clock.advance(499);
    expect(fired).toEqual([]);
    await clock.advance(101);
    expect(fired).toEqual(['a']);
    await clock.advance(500);
    expect(fired).toEqual(['a', 'c']);
    expect(d.size).toBe(0);
  });

  it('keeps no timer while nothing waits', async () => {
    const clock = new VirtualClock();
    const timers = new Set<unknown>();
    const counting = {
      now: () => clock.now(),
      setTimeout: (fn: () => void, ms: number) => {
        const h: unknown = clock.setTimeout(() => {
          timers.delete(h);
          fn();
        }, ms);
        timers.add(h);
        return h;
      },
      clearTimeout: (h: unknown) => {
        timers.delete(h);
        clock.clearTimeout(h as number);
      },
    };
    const d = new Deadlines(200, 50, counting);
    d.add(() => undefined).clear();
    await clock.advance(50);
    expect(timers.size).toBe(0);
    d.add(() => undefined);
    expect(timers.size).toBe(1);
    await clock.advance(250);
    expect(timers.size).toBe(0);
  });
});
